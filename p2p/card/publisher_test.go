package card

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/routing"
)

// memRouter is an in-memory Router that applies the validator like a DHT
// server does.
type memRouter struct {
	mu       sync.Mutex
	v        Validator
	values   map[string][]byte
	provides map[string]int
	fail     bool
}

func newMemRouter(v Validator) *memRouter {
	return &memRouter{v: v, values: map[string][]byte{}, provides: map[string]int{}}
}

func (r *memRouter) PutValue(_ context.Context, key string, val []byte, _ ...routing.Option) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("network down")
	}
	if err := r.v.Validate(key, val); err != nil {
		return err
	}
	if old, ok := r.values[key]; ok {
		if i, err := r.v.Select(key, [][]byte{val, old}); err != nil || i != 0 {
			return errors.New("can't replace a newer value with an older value")
		}
	}
	r.values[key] = val
	return nil
}

func (r *memRouter) Provide(_ context.Context, c cid.Cid, _ bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("network down")
	}
	r.provides[c.KeyString()]++
	return nil
}

func (r *memRouter) get(t *testing.T, key string) *Signed {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := Open(r.values[key])
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return s
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestPublisherLifecycle(t *testing.T) {
	f := newFixture(t)
	clk := &clock{now: t0}
	r := newMemRouter(Validator{Now: clk.Now})
	p, err := NewPublisher(r, f.key, f.att, WithClock(clk.Now), WithLifetime(time.Hour, 20*time.Minute),
		WithReprovide(30*time.Minute), WithAddrs(func() []string { return []string{"/ip4/127.0.0.1/tcp/1"} }))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	tr := Template{Name: "translate", Description: "Translates English text into French", Tags: []string{"french"}, Price: Price{Amount: "0"}}
	echo := Template{Name: "echo", Description: "Echoes its input", Price: Price{Amount: "0"}}

	// A bad template changes nothing.
	if err := p.Publish(ctx, tr, Template{Name: "bad/name", Price: Price{Amount: "0"}}); err == nil {
		t.Fatal("bad template accepted")
	}
	if len(p.Cards()) != 0 || len(r.values) != 0 {
		t.Fatal("failed Publish changed state")
	}

	if err := p.Publish(ctx, tr, echo); err != nil {
		t.Fatal(err)
	}
	if len(p.Cards()) != 2 {
		t.Fatalf("%d cards served", len(p.Cards()))
	}
	first := r.get(t, Key(f.id, "translate"))
	if first.Addrs[0] != "/ip4/127.0.0.1/tcp/1" {
		t.Fatalf("addrs %v", first.Addrs)
	}
	x, err := OpenIndex(r.values[IndexKey(f.id)])
	if err != nil || len(x.Names) != 2 {
		t.Fatalf("index %v %v", x, err)
	}
	for _, term := range []string{"translat", "french", "english", "echo"} {
		if r.provides[TermCID(term).KeyString()] != 1 {
			t.Errorf("term %q provided %d times", term, r.provides[TermCID(term).KeyString()])
		}
	}

	// Not yet due: nothing changes.
	clk.Add(10 * time.Minute)
	if err := p.renew(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.get(t, Key(f.id, "translate")); got.Seq != first.Seq {
		t.Fatal("republished before due")
	}

	// Due: a higher seq, a later expiry; a put failure is retried.
	clk.Add(15 * time.Minute)
	r.fail = true
	if err := p.renew(ctx); err == nil {
		t.Fatal("renew hid a put failure")
	}
	r.fail = false
	clk.Add(10 * time.Minute) // past the reprovide interval too
	if err := p.renew(ctx); err != nil {
		t.Fatal(err)
	}
	second := r.get(t, Key(f.id, "translate"))
	if second.Seq <= first.Seq || !second.ExpiresAt.After(first.ExpiresAt) {
		t.Fatalf("republish: seq %d -> %d, expiry %s -> %s", first.Seq, second.Seq, first.ExpiresAt, second.ExpiresAt)
	}
	if r.provides[TermCID("french").KeyString()] != 2 {
		t.Fatalf("term reprovided %d times", r.provides[TermCID("french").KeyString()])
	}

	// Withdraw: tombstone with a higher seq, index without the name.
	if err := p.Withdraw(ctx, "translate"); err != nil {
		t.Fatal(err)
	}
	tomb := r.get(t, Key(f.id, "translate"))
	if !tomb.Withdrawn || tomb.Seq <= second.Seq {
		t.Fatalf("tombstone %+v", tomb.Card)
	}
	x, _ = OpenIndex(r.values[IndexKey(f.id)])
	if len(x.Names) != 1 || x.Names[0] != "echo" {
		t.Fatalf("index after withdraw %v", x.Names)
	}
	if _, ok := p.Card("translate"); ok || len(p.Cards()) != 1 {
		t.Fatal("withdrawn card still served")
	}
	if err := p.Withdraw(ctx, "translate"); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("second withdraw: %v", err)
	}
	v := Verifier{Verifiers: f.vers, Now: clk.Now}
	if _, err := v.Verify(ctx, tomb.Raw); !errors.Is(err, ErrWithdrawn) {
		t.Fatalf("tombstone verified: %v", err)
	}

	// A new publisher with the same identity (a restart) issues a higher seq.
	p2, err := NewPublisher(r, f.key, f.att, WithClock(clk.Now), WithLifetime(time.Hour, 20*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	clk.Add(time.Millisecond)
	if err := p2.Publish(ctx, echo); err != nil {
		t.Fatalf("restarted publisher: %v", err)
	}
}

func TestPublisherLoopRepublishes(t *testing.T) {
	f := newFixture(t)
	r := newMemRouter(Validator{})
	before := runtime.NumGoroutine()
	p, err := NewPublisher(r, f.key, f.att, WithLifetime(400*time.Millisecond, 100*time.Millisecond), WithReprovide(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(context.Background(), Template{Name: "echo", Price: Price{Amount: "0"}}); err != nil {
		t.Fatal(err)
	}
	first := r.get(t, Key(f.id, "echo")).Seq
	deadline := time.Now().Add(5 * time.Second)
	for r.get(t, Key(f.id, "echo")).Seq == first {
		if time.Now().After(deadline) {
			t.Fatal("loop never republished")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("goroutines %d -> %d after Close", before, n)
	}
	if err := p.Publish(context.Background(), Template{Name: "x", Price: Price{Amount: "0"}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}
