package policy

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentnet/agentnode/script"
)

const (
	network = "eip155:84532"
	asset   = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
)

func payment(amount int64) Payment {
	return Payment{
		Requirements: Requirements{Scheme: "exact", Network: network, Asset: asset, Amount: big.NewInt(amount),
			PayTo: "0x209693bc6afc0c5328ba36faf03c514ef312287c", Resource: "libp2p://peer/agent"},
		Target: Target{Peer: "12D3KooWPeerB", Agent: "summarize", Tags: []string{"text"}, Platform: "tdx",
			Measurements: map[string]string{"mrtd": "ab"}},
		Origin: Origin{Kind: OriginUser},
	}
}

func program(t testing.TB, path string) *script.Program {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return &script.Program{Filename: filepath.Base(path), Source: src}
}

func inline(src string) *script.Program {
	return &script.Program{Filename: "policy.star", Source: []byte(src)}
}

// clock is a settable test clock.
type clock struct{ t atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.t.Store(t.UnixNano())
	return c
}
func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()) }
func (c *clock) add(d time.Duration) { c.t.Add(int64(d)) }
func dbAt(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newDB(t testing.TB) (*bolt.DB, string) {
	path := filepath.Join(t.TempDir(), "node.db")
	db := dbAt(t, path)
	t.Cleanup(func() { db.Close() })
	return db, path
}

func TestDefaultPolicy(t *testing.T) {
	ctx := context.Background()
	p, err := NewPayer(ctx, PayerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := p.Decide(ctx, payment(0)); !d.Allow {
		t.Errorf("free payment denied: %+v", d)
	}
	if d, _ := p.Decide(ctx, payment(1)); d.Allow || d.Policy != "default" {
		t.Errorf("paid payment without a maximum allowed: %+v", d)
	}
	p, _ = NewPayer(ctx, PayerConfig{MaxPrice: big.NewInt(10000)})
	if d, _ := p.Decide(ctx, payment(10000)); !d.Allow {
		t.Errorf("payment at the maximum denied: %+v", d)
	}
	if d, _ := p.Decide(ctx, payment(10001)); d.Allow || !strings.Contains(d.Reason, "exceeds the maximum 10000") {
		t.Errorf("payment over the maximum: %+v", d)
	}
}

func TestScriptDecisions(t *testing.T) {
	ctx := context.Background()
	db, _ := newDB(t)
	p, err := NewPayer(ctx, PayerConfig{DB: db, Policy: program(t, "testdata/payer.star")})
	if err != nil {
		t.Fatal(err)
	}
	sim := payment(10000)
	sim.Target.Platform = "sim"
	agent := payment(40000)
	agent.Origin = Origin{Kind: OriginAgent, Agent: "summarizer"}
	cases := []struct {
		name   string
		pay    Payment
		allow  bool
		reason string
	}{
		{"small", payment(10000), true, "allowed by policy"},
		{"expensive", payment(60000), false, "price 60000 over 50000"},
		{"sim tee", sim, false, "target is not in a hardware TEE"},
	}
	for _, c := range cases {
		d, err := p.Decide(ctx, c.pay)
		if err != nil || d.Allow != c.allow || d.Reason != c.reason || d.Policy != "payer.star" {
			t.Errorf("%s: %+v, %v", c.name, d, err)
		}
	}
	// The agent's own budget (100000 a day) runs out before the node's.
	for i, want := range []bool{true, true, false} {
		h, d, err := p.Authorize(ctx, agent)
		if err != nil || d.Allow != want {
			t.Fatalf("agent payment %d: %+v, %v", i, d, err)
		}
		if want {
			if err := p.Commit(ctx, h); err != nil {
				t.Fatal(err)
			}
		} else if !strings.Contains(d.Reason, "summarizer over its daily budget") {
			t.Fatalf("reason %q", d.Reason)
		}
	}
	// A user payment still fits the node's caps.
	if d, err := p.Decide(ctx, payment(10000)); !d.Allow || err != nil {
		t.Fatalf("user payment after the agent's budget ran out: %+v %v", d, err)
	}
}

// TestAuthorizeConcurrentCap: with a cap that fits exactly five payments,
// twenty concurrent payments allow exactly five.
func TestAuthorizeConcurrentCap(t *testing.T) {
	ctx := context.Background()
	db, _ := newDB(t)
	p, err := NewPayer(ctx, PayerConfig{DB: db, Policy: inline(`
def decide(p):
    return p["spent"]["total"]["hour"] + p["requirements"]["amount"] <= 50000
`)})
	if err != nil {
		t.Fatal(err)
	}
	var allowed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			h, d, err := p.Authorize(ctx, payment(10000))
			if err != nil {
				t.Error(err)
				return
			}
			if d.Allow {
				allowed.Add(1)
				if err := p.Commit(ctx, h); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := allowed.Load(); n != 5 {
		t.Fatalf("%d payments allowed under a cap for 5", n)
	}
	s, _ := p.Spending(payment(0))
	if s.Total.Hour.Int64() != 50000 {
		t.Fatalf("spent %s, want 50000", s.Total.Hour)
	}
}

func TestSpendingSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	db, path := newDB(t)
	clk := newClock(time.Date(2026, 5, 1, 10, 30, 0, 0, time.UTC))
	capPolicy := inline(`
def decide(p):
    if p["spent"]["total"]["day"] + p["requirements"]["amount"] > 25000:
        return {"allow": False, "reason": "daily cap"}
    return True
`)
	p, err := NewPayer(ctx, PayerConfig{DB: db, Policy: capPolicy, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	h, d, err := p.Authorize(ctx, payment(10000))
	if err != nil || !d.Allow {
		t.Fatal(d, err)
	}
	if err := p.Commit(ctx, h); err != nil {
		t.Fatal(err)
	}
	pending, _, err := p.Authorize(ctx, payment(10000)) // the node stops before settling
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = dbAt(t, path)
	defer db.Close()
	p, err = NewPayer(ctx, PayerConfig{DB: db, Policy: capPolicy, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := p.Spending(payment(0))
	if s.Total.Day.Int64() != 20000 {
		t.Fatalf("after restart spent %s, want 20000 (committed + pending hold)", s.Total.Day)
	}
	if _, d, _ := p.Authorize(ctx, payment(10000)); d.Allow {
		t.Fatal("cap not enforced after restart")
	}
	holds, err := p.Holds(ctx)
	if err != nil || len(holds) != 1 || holds[0].ID != pending.ID {
		t.Fatalf("Holds = %+v, %v", holds, err)
	}
	// The pending payment turned out not to be made: roll it back.
	if err := p.Rollback(ctx, holds[0]); err != nil {
		t.Fatal(err)
	}
	if err := p.Rollback(ctx, holds[0]); !errors.Is(err, ErrUnknownHold) {
		t.Fatalf("second Rollback: %v", err)
	}
	if err := p.Commit(ctx, holds[0]); !errors.Is(err, ErrUnknownHold) {
		t.Fatalf("Commit after Rollback: %v", err)
	}
	if _, d, _ := p.Authorize(ctx, payment(10000)); !d.Allow {
		t.Fatalf("payment denied after rollback: %+v", d)
	}
}

func TestWindowsAndScopes(t *testing.T) {
	ctx := context.Background()
	db, _ := newDB(t)
	clk := newClock(time.Date(2026, 5, 1, 10, 59, 0, 0, time.UTC))
	p, err := NewPayer(ctx, PayerConfig{DB: db, MaxPrice: big.NewInt(1 << 40), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	pay := payment(700)
	pay.Origin = Origin{Kind: OriginAgent, Agent: "a1"}
	h, _, err := p.Authorize(ctx, pay)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Commit(ctx, h)
	get := func(q Payment) Spending {
		s, err := p.Spending(q)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := get(pay)
	if s.Total.Hour.Int64() != 700 || s.Peer.Day.Int64() != 700 || s.Agent.Day.Int64() != 700 || s.TargetAgent.Hour.Int64() != 700 {
		t.Fatalf("spending %+v", s)
	}
	// Other scopes and tokens are separate; address case does not matter.
	other := payment(1)
	other.Target.Peer, other.Target.Agent = "12D3KooWOther", "x"
	if s := get(other); s.Peer.Day.Sign() != 0 || s.TargetAgent.Day.Sign() != 0 || s.Agent.Day.Sign() != 0 || s.Total.Day.Int64() != 700 {
		t.Fatalf("other scopes %+v", s)
	}
	tok := payment(1)
	tok.Requirements.Asset = "0x0000000000000000000000000000000000000001"
	if s := get(tok); s.Total.Day.Sign() != 0 {
		t.Fatalf("another token counted: %+v", s)
	}
	lower := pay
	lower.Requirements.Asset = strings.ToLower(asset)
	if s := get(lower); s.Total.Day.Int64() != 700 {
		t.Fatalf("lowercase asset is another account: %+v", s)
	}
	clk.add(2 * time.Minute) // next clock hour
	if s := get(pay); s.Total.Hour.Sign() != 0 || s.Total.Day.Int64() != 700 {
		t.Fatalf("next hour: %+v", s)
	}
	clk.add(23 * time.Hour)
	if s := get(pay); s.Total.Day.Sign() != 0 {
		t.Fatalf("a day later: %+v", s)
	}
}

// TestHostileScriptsDeny: a policy that loops, recurses, allocates
// hugely, fails or answers nonsense denies with a clear error naming the
// file and line, and the payer keeps working.
func TestHostileScriptsDeny(t *testing.T) {
	ctx := context.Background()
	goroutines := runtime.NumGoroutine()
	cases := []struct {
		name, body string
		kind       error
		line       int
	}{
		{"infinite loop", "    while True:\n        pass\n", script.ErrSteps, 2},
		{"recursion", "    return decide(p)\n", script.ErrRecursion, 2},
		{"huge allocation", "    return [0] * 100000000\n", script.ErrSteps, 2},
		{"memory", "    s = 'x' * 1000000\n    return [s + s for i in range(10)]\n", script.ErrMemory, 3},
		{"fail", "    fail('no')\n", script.ErrRuntime, 2},
		{"bad type", "    return 'yes'\n", ErrBadDecision, 0},
		{"dict without allow", "    return {'reason': 'x'}\n", ErrBadDecision, 0},
		{"key error", "    return p['nope']\n", script.ErrRuntime, 2},
	}
	for _, c := range cases {
		// A long timeout: the step and memory limits must stop these, also
		// on a loaded machine under the race detector.
		p, err := NewPayer(ctx, PayerConfig{Policy: inline("def decide(p):\n" + c.body), Limits: script.Limits{Timeout: time.Minute}})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		start := time.Now()
		d, err := p.Decide(ctx, payment(1))
		if d.Allow || !errors.Is(err, c.kind) {
			t.Errorf("%s: %+v, %v; want deny with %v", c.name, d, err, c.kind)
			continue
		}
		if c.line > 0 && !strings.Contains(err.Error(), fmt.Sprintf("policy.star:%d:", c.line)) {
			t.Errorf("%s: error lacks policy.star:%d: %v", c.name, c.line, err)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("%s: took %v", c.name, time.Since(start))
		}
	}
	p, _ := NewPayer(ctx, PayerConfig{Policy: inline("def decide(p):\n    return p['requirements']['amount'] < 5\n")})
	if d, err := p.Decide(ctx, payment(1)); !d.Allow || err != nil {
		t.Fatalf("healthy policy after hostile ones: %+v %v", d, err)
	}
	time.Sleep(10 * time.Millisecond)
	if n := runtime.NumGoroutine(); n > goroutines+2 {
		t.Errorf("goroutines grew from %d to %d", goroutines, n)
	}
	for name, src := range map[string]string{
		"no decide":  "def other(p):\n    return True\n",
		"two params": "def decide(p, q):\n    return True\n",
	} {
		if _, err := NewPayer(ctx, PayerConfig{Policy: inline(src)}); !errors.Is(err, ErrNoEntryPoint) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewPayer(ctx, PayerConfig{Policy: inline("def decide(p):\n    return True +\n")}); !errors.Is(err, script.ErrSyntax) {
		t.Errorf("syntax error: %v", err)
	}
}

func TestBadPayments(t *testing.T) {
	ctx := context.Background()
	db, _ := newDB(t)
	p, _ := NewPayer(ctx, PayerConfig{DB: db, MaxPrice: big.NewInt(100)})
	for name, mod := range map[string]func(*Payment){
		"no network":     func(p *Payment) { p.Requirements.Network = "" },
		"nil amount":     func(p *Payment) { p.Requirements.Amount = nil },
		"negative":       func(p *Payment) { p.Requirements.Amount = big.NewInt(-1) },
		"huge":           func(p *Payment) { p.Requirements.Amount = new(big.Int).Lsh(big.NewInt(1), 257) },
		"bad origin":     func(p *Payment) { p.Origin.Kind = "robot" },
		"nameless agent": func(p *Payment) { p.Origin = Origin{Kind: OriginAgent} },
		"long peer":      func(p *Payment) { p.Target.Peer = strings.Repeat("p", 300) },
		"many tags":      func(p *Payment) { p.Target.Tags = make([]string, 100) },
	} {
		pay := payment(1)
		mod(&pay)
		if _, d, err := p.Authorize(ctx, pay); !errors.Is(err, ErrBadPayment) || d.Allow {
			t.Errorf("%s: %+v %v", name, d, err)
		}
	}
	if s, _ := p.Spending(payment(1)); s.Total.Day.Sign() != 0 {
		t.Fatal("a rejected payment changed spending")
	}
	nodb, _ := NewPayer(ctx, PayerConfig{MaxPrice: big.NewInt(100)})
	if _, _, err := nodb.Authorize(ctx, payment(1)); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("Authorize without a database: %v", err)
	}
}
