package loadtest

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 1000; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 500}, {99, 990}, {99.9, 999}, {100, 1000}, {0.01, 1}} {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if Percentile(nil, 50) != 0 || Percentile(d[:1], 99.9) != 1 {
		t.Fatal("edge cases")
	}
}

func TestCheckFlagsWhatAHealthyNodeNeverDoes(t *testing.T) {
	ok := Report{Config: Config{Nodes: 1, Clients: 2, Kinds: []Kind{Exec}, MaxInflight: 64},
		Ops:    []OpStats{{Kind: Exec, OK: 10, Errors: map[string]int{}}},
		Before: Snapshot{Goroutines: 100, HeapAlloc: 10 << 20}, After: Snapshot{Goroutines: 104, HeapAlloc: 20 << 20}}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Report){
		"nothing succeeded":    func(r *Report) { r.Ops[0].OK = 0 },
		"timeouts":             func(r *Report) { r.Ops[0].Errors[ClassTimeout] = 1 },
		"503 without overload": func(r *Report) { r.Ops[0].Errors[ClassBusy] = 1 },
		"goroutine leak":       func(r *Report) { r.After.Goroutines = 200 },
		"heap growth":          func(r *Report) { r.After.HeapAlloc = 200 << 20 },
		"heap growth beyond the chain's share": func(r *Report) {
			r.Node = map[string]float64{`agentnode_payments_total{outcome="settled"}`: 1000} // allows 16 + 7.8 MiB
			r.After.HeapAlloc = r.Before.HeapAlloc + 30<<20
		},
	} {
		r := ok
		r.Ops = []OpStats{{Kind: Exec, OK: 10, Errors: map[string]int{}}}
		mut(&r)
		if r.Check() == nil {
			t.Errorf("%s passed the check", name)
		}
	}
	paid := ok
	paid.Node = map[string]float64{`agentnode_payments_total{outcome="settled"}`: 15000}
	paid.After.HeapAlloc = paid.Before.HeapAlloc + 60<<20 // the embedded chain's blocks
	if err := paid.Check(); err != nil {
		t.Fatalf("heap growth of the chain's blocks: %v", err)
	}
	over := ok
	over.Config.Clients, over.Config.MaxInflight = 8, 4
	over.Ops = []OpStats{{Kind: Exec, OK: 10, Errors: map[string]int{ClassBusy: 30}}}
	if err := over.Check(); err != nil {
		t.Fatalf("503 under overload: %v", err)
	}
}

// TestOverloadShedsWith503 runs six times more clients than the node
// takes executions: every answer is a verified result or a 503 with
// Retry-After that never waits for a slot (the node's overload counter
// agrees), nothing times out or loses its connection, and the process
// comes back to its goroutines and heap afterwards.
func TestOverloadShedsWith503(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a load")
	}
	var progress bytes.Buffer
	r, err := Run(context.Background(), Config{Duration: 4 * time.Second, Clients: 24, Kinds: []Kind{Exec},
		MaxInflight: 4, MaxConcurrent: 2, Settle: 2 * time.Second, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.Markdown(&b, "overload")
	t.Log("\n" + b.String())
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	s := r.Ops[0]
	shed := s.Errors[ClassBusy]
	if shed == 0 {
		t.Fatal("24 clients against 4 in-flight executions, and nothing was shed")
	}
	if got := r.Node[`agentnode_http_rejected_total{reason="overload"}`]; int(got) != shed {
		t.Fatalf("the node counted %v sheds, the clients saw %d", got, shed)
	}
	// A shed answer never waits for an execution slot: even on a starved
	// machine under the race detector it comes far inside the clients'
	// timeout, where a queue would make a timeout storm.
	if s.ShedP999 > opTimeout/6 {
		t.Fatalf("sheds took up to %s (p99.9): a shed answer must not wait", s.ShedP999)
	}
}

// TestShortLoadIsClean runs every kind against one node for a few
// seconds: no error at all, and no leak.
func TestShortLoadIsClean(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a load")
	}
	r, err := Run(context.Background(), Config{Duration: 3 * time.Second, Clients: 2, Settle: 2 * time.Second, Progress: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.Markdown(&b, "short")
	t.Log("\n" + b.String())
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
}
