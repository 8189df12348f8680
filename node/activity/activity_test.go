package activity_test

import (
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/node/activity"
	"github.com/agentnet/agentnode/node/api"
)

func TestRecentNewestFirstAndBounded(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tick := 0
	l := activity.New(3, activity.WithClock(func() time.Time { tick++; return base.Add(time.Duration(tick) * time.Second) }))
	if got := l.Recent(0); len(got) != 0 {
		t.Fatalf("empty log: %v", got)
	}
	for _, a := range []string{"a", "b"} {
		l.Add(activity.Event{Kind: activity.Served, Agent: a, Outcome: activity.OK})
	}
	if got := names(l.Recent(0)); got != "b a" {
		t.Fatalf("before wrap: %q", got)
	}
	for _, a := range []string{"c", "d", "e"} {
		l.Add(activity.Event{Kind: activity.Served, Agent: a, Outcome: activity.OK})
	}
	got := l.Recent(0)
	if names(got) != "e d c" || l.Len() != 3 {
		t.Fatalf("after wrap: %q (len %d)", names(got), l.Len())
	}
	if got[0].Seq != 5 || got[2].Seq != 3 {
		t.Fatalf("seqs %d..%d, want 5..3", got[0].Seq, got[2].Seq)
	}
	if !got[0].Time.Equal(base.Add(5 * time.Second)) {
		t.Fatalf("time %v: the clock was not used", got[0].Time)
	}
	if names(l.Recent(2)) != "e d" || names(l.Recent(10)) != "e d c" {
		t.Fatalf("limits: %q, %q", names(l.Recent(2)), names(l.Recent(10)))
	}
}

func TestEventsAreCopies(t *testing.T) {
	l := activity.New(2)
	p := &api.Payment{Transaction: "0x01"}
	when := time.Unix(100, 0)
	l.Add(activity.Event{Kind: activity.Called, Time: when, Payment: p})
	p.Transaction = "0x02" // the caller reuses its value
	got := l.Recent(1)
	if got[0].Payment.Transaction != "0x01" || !got[0].Time.Equal(when) {
		t.Fatalf("stored %+v", got[0])
	}
	got[0].Payment.Transaction = "0x03" // a reader changes its copy
	if l.Recent(1)[0].Payment.Transaction != "0x01" {
		t.Fatal("a reader changed the log")
	}
}

func TestNilLogRecordsNothing(t *testing.T) {
	var l *activity.Log
	l.Add(activity.Event{Kind: activity.Served})
	if l.Recent(5) != nil || l.Len() != 0 {
		t.Fatal("nil log returned events")
	}
}

func TestConcurrentAdd(t *testing.T) {
	l := activity.New(64)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				l.Add(activity.Event{Kind: activity.Served})
				_ = l.Recent(8)
			}
		})
	}
	wg.Wait()
	got := l.Recent(0)
	if len(got) != 64 || got[0].Seq != 800 {
		t.Fatalf("%d events, newest seq %d; want 64 and 800", len(got), got[0].Seq)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq-1 {
			t.Fatalf("seq %d after %d: not newest first", got[i].Seq, got[i-1].Seq)
		}
	}
}

func BenchmarkAdd(b *testing.B) {
	l := activity.New(activity.DefaultSize)
	e := activity.Event{Kind: activity.Served, Agent: "arxiv", Outcome: activity.OK, Payment: &api.Payment{Transaction: "0xabc"}}
	for b.Loop() {
		l.Add(e)
	}
}

func names(es []activity.Event) string {
	s := ""
	for i, e := range es {
		if i > 0 {
			s += " "
		}
		s += e.Agent
	}
	return s
}
