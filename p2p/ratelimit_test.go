package p2p_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/p2p"
)

// refusals counts ServiceConfig.Refused calls by reason.
type refusals struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *refusals) add(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[reason]++
}

func (r *refusals) get(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[reason]
}

// TestPerPeerRateLimit: a peer that opens streams faster than RatePerPeer
// is reset unread past its burst and counted as rate_limit; another peer
// keeps its own budget; the first is served again once its bucket refills.
func TestPerPeerRateLimit(t *testing.T) {
	var refused refusals
	p := newPair(t, p2p.ServiceConfig{Name: "agentnet.test", RatePerPeer: 1, BurstPerPeer: 3, Refused: refused.add})
	ctx := context.Background()
	call := func(from string) error {
		h := p.client
		if from == "other" {
			h = p.other
		}
		_, err := p2p.RoundTrip(ctx, h, p.server.ID(), echoID, []byte("x"), 100)
		return err
	}
	ok := 0
	for range 6 {
		if call("client") == nil {
			ok++
		}
	}
	// The burst, plus at most one token refilled while the calls ran.
	if ok < 3 || ok > 4 {
		t.Fatalf("%d of 6 back-to-back calls served, want the burst of 3 (or 4)", ok)
	}
	if got := refused.get(p2p.RefusedRate); got != 6-ok {
		t.Fatalf("%d refusals counted as rate_limit, want %d", got, 6-ok)
	}
	if err := call("other"); err != nil {
		t.Fatalf("another peer was limited by the first one's rate: %v", err)
	}
	time.Sleep(1100 * time.Millisecond) // a token at 1/s
	if err := call("client"); err != nil {
		t.Fatalf("not served after the bucket refilled: %v", err)
	}
	if got := refused.get(p2p.RefusedBusy); got != 0 {
		t.Fatalf("%d refusals counted as busy", got)
	}
}

// TestBusyRefusalIsCounted: a stream past MaxPerPeer is refused and
// counted as peer_busy, and does not spend the peer's rate.
func TestBusyRefusalIsCounted(t *testing.T) {
	var refused refusals
	p := newPair(t, p2p.ServiceConfig{Name: "agentnet.test", MaxPerPeer: 1, RatePerPeer: 100, BurstPerPeer: 100,
		ReadTimeout: 5 * time.Second, Refused: refused.add})
	ctx := context.Background()
	// A stream that sends nothing holds the peer's only slot.
	s, err := p2p.OpenStream(ctx, p.client, p.server.ID(), echoID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte{5}); err != nil { // a frame of 5 bytes that never come
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.svc.InFlight(p.client.ID()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the held stream never reached the handler")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := p2p.RoundTrip(ctx, p.client, p.server.ID(), echoID, []byte("x"), 100); err == nil {
		t.Fatal("a second concurrent stream was served past MaxPerPeer 1")
	}
	if got := refused.get(p2p.RefusedBusy); got != 1 {
		t.Fatalf("%d refusals counted as busy, want 1", got)
	}
	if got := refused.get(p2p.RefusedRate); got != 0 {
		t.Fatalf("%d counted as rate_limit", got)
	}
	s.Done()
}
