package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// testDB is a bbolt file in a temporary directory that a test can close
// and reopen, as a node restart would.
type testDB struct {
	t    testing.TB
	path string
	db   *bolt.DB
}

func newTestDB(t testing.TB) *testDB {
	t.Helper()
	d := &testDB{t: t, path: filepath.Join(t.TempDir(), "node.db")}
	d.open()
	t.Cleanup(func() {
		if d.db != nil {
			d.db.Close()
		}
	})
	return d
}

func (d *testDB) open() *bolt.DB {
	d.t.Helper()
	db, err := bolt.Open(d.path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		d.t.Fatalf("open db: %v", err)
	}
	db.MaxBatchDelay = time.Millisecond
	d.db = db
	return db
}

// restart closes the database and opens it again.
func (d *testDB) restart() *bolt.DB {
	d.t.Helper()
	if err := d.db.Close(); err != nil {
		d.t.Fatalf("close db: %v", err)
	}
	return d.open()
}

func mustOpen(t testing.TB, db *bolt.DB, opts ...Option) *Ledger {
	t.Helper()
	l, err := Open(db, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

const (
	testNetwork = "eip155:84532"
	testAsset   = "0x036cbd53842c5426634e7929541ec2318f3dcf7e"
	testPayer   = "0x857b06519e91e3a54538791bdbb0e22373e36b66"
	testPayTo   = "0x209693bc6afc0c5328ba36faf03c514ef312287c"
)

func testKey(n byte) Key {
	k := Key{Network: testNetwork, Asset: testAsset, Payer: testPayer}
	k.Nonce[31] = n
	k.Nonce[0] = 0xf3
	return k
}

func testEntry(n byte) Entry {
	return Entry{
		Key:          testKey(n),
		PayTo:        testPayTo,
		Amount:       big.NewInt(10000),
		RequestID:    fmt.Sprintf("req-%d", n),
		Requirements: []byte(`{"scheme":"exact","network":"eip155:84532","amount":"10000"}`),
		Payload:      []byte(`{"x402Version":2,"payload":{"signature":"0x2d6a"}}`),
	}
}

func TestReserveOnce(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t)
	l := mustOpen(t, d.db)
	if err := l.Reserve(ctx, testEntry(1)); err != nil {
		t.Fatalf("first Reserve: %v", err)
	}
	if err := l.Reserve(ctx, testEntry(1)); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("second Reserve: got %v, want ErrNonceUsed", err)
	}
	// The same authorization with addresses in another case is the same key.
	upper := testEntry(1)
	upper.Asset = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
	upper.Payer = "0x857B06519E91E3A54538791BDBB0E22373E36B66"
	if err := l.Reserve(ctx, upper); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("mixed-case Reserve: got %v, want ErrNonceUsed", err)
	}
	// Another nonce, another payer or another asset is another key.
	for _, mod := range []func(*Entry){
		func(e *Entry) { e.Nonce[5] = 1 },
		func(e *Entry) { e.Payer = "0x0000000000000000000000000000000000000001" },
		func(e *Entry) { e.Asset = "0x0000000000000000000000000000000000000002" },
		func(e *Entry) { e.Network = "eip155:8453" },
	} {
		e := testEntry(1)
		mod(&e)
		if err := l.Reserve(ctx, e); err != nil {
			t.Errorf("Reserve %s: %v", e.Key, err)
		}
	}
}

func TestReserveConcurrentOneWins(t *testing.T) {
	for _, batch := range []bool{true, false} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			d := newTestDB(t)
			l := mustOpen(t, d.db, WithBatch(batch))
			const n = 50
			var wg sync.WaitGroup
			errs := make([]error, n)
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[i] = l.Reserve(context.Background(), testEntry(7))
				}()
			}
			close(start)
			wg.Wait()
			ok, used := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrNonceUsed):
					used++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			if ok != 1 || used != n-1 {
				t.Fatalf("got %d successes and %d ErrNonceUsed, want 1 and %d", ok, used, n-1)
			}
		})
	}
}

// TestExecutedSurvivesRestart: an entry is on disk from its execution
// record on, with everything Reserve was given, and its key stays used
// across a restart. A reservation whose work never recorded an execution
// is not: the restart forgets it, and the payment, never settled, may be
// presented again.
func TestExecutedSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t)
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := mustOpen(t, d.db, WithClock(func() time.Time { return clock }))
	want, cut := testEntry(2), testEntry(20)
	for _, e := range []Entry{want, cut} {
		if err := l.Reserve(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := l.Get(ctx, cut.Key); err != nil || got.State != StateReserved {
		t.Fatalf("Get of a reservation before restart = %+v, %v", got, err)
	}
	if err := l.MarkExecuted(ctx, want.Key); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, d.restart())
	if err := l.Reserve(ctx, testEntry(2)); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("Reserve of an executed key after restart: got %v, want ErrNonceUsed", err)
	}
	got, err := l.Get(ctx, want.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateExecuted || got.RequestID != want.RequestID || got.Amount.Cmp(want.Amount) != 0 ||
		string(got.Requirements) != string(want.Requirements) || string(got.Payload) != string(want.Payload) ||
		got.PayTo != want.PayTo || !got.Created.Equal(clock) || got.Key != want.Key {
		t.Fatalf("entry after restart = %+v, want %+v", got, want)
	}
	if _, err := l.Get(ctx, cut.Key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a reservation cut off by the restart: Get = %v, want ErrNotFound", err)
	}
	if err := l.Reserve(ctx, cut); err != nil {
		t.Fatalf("Reserve again of a payment whose work was cut off: %v", err)
	}
}

func TestReleasedNonceStaysUsed(t *testing.T) {
	ctx := context.Background()
	l := mustOpen(t, newTestDB(t).db)
	e := testEntry(3)
	if err := l.Reserve(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx, e.Key, "module failed to compile"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reserve(ctx, e); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("Reserve after Release: got %v, want ErrNonceUsed", err)
	}
	got, err := l.Get(ctx, e.Key)
	if err != nil || got.State != StateReleased || got.Reason != "module failed to compile" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
}

func TestTransitions(t *testing.T) {
	ctx := context.Background()
	// setup brings a fresh entry to a state along allowed transitions.
	paths := map[State][]State{
		StateReserved: nil,
		StateExecuted: {StateExecuted},
		StateSettled:  {StateExecuted, StateSettled},
		StateReleased: {StateReleased},
		StateFailed:   {StateExecuted, StateFailed},
	}
	apply := func(l *Ledger, k Key, to State) error {
		switch to {
		case StateExecuted:
			return l.MarkExecuted(ctx, k)
		case StateSettled:
			return l.MarkSettled(ctx, k, "0xabc")
		case StateReleased:
			return l.Release(ctx, k, "r")
		case StateFailed:
			return l.MarkFailed(ctx, k, "f")
		}
		return fmt.Errorf("no transition to %s", to)
	}
	all := []State{StateReserved, StateExecuted, StateSettled, StateReleased, StateFailed}
	l := mustOpen(t, newTestDB(t).db)
	n := byte(0)
	for _, from := range all {
		for _, to := range all[1:] {
			n++
			e := testEntry(n)
			if err := l.Reserve(ctx, e); err != nil {
				t.Fatal(err)
			}
			for _, s := range paths[from] {
				if err := apply(l, e.Key, s); err != nil {
					t.Fatalf("setup %s: %v", s, err)
				}
			}
			before, _ := l.Get(ctx, e.Key)
			err := apply(l, e.Key, to)
			after, _ := l.Get(ctx, e.Key)
			if from.allowed(to) {
				if err != nil || after.State != to {
					t.Errorf("%s -> %s: err %v, state %s", from, to, err, after.State)
				}
				continue
			}
			if !errors.Is(err, ErrInvalidTransition) {
				t.Errorf("%s -> %s: got %v, want ErrInvalidTransition", from, to, err)
			}
			if after.State != before.State || after.TxHash != before.TxHash || after.Reason != before.Reason || !after.Updated.Equal(before.Updated) {
				t.Errorf("%s -> %s: refused transition changed the entry: %+v -> %+v", from, to, before, after)
			}
		}
	}
	// The allowed set is exactly the documented one.
	want := map[[2]State]bool{
		{StateReserved, StateExecuted}: true, {StateReserved, StateReleased}: true,
		{StateExecuted, StateSettled}: true, {StateExecuted, StateFailed}: true,
	}
	for _, a := range all {
		for _, b := range all {
			if a.allowed(b) != want[[2]State{a, b}] {
				t.Errorf("allowed(%s, %s) = %v", a, b, a.allowed(b))
			}
		}
	}
	if err := l.MarkExecuted(ctx, testKey(200)); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkExecuted of unknown key: got %v, want ErrNotFound", err)
	}
	e := testEntry(201)
	_ = l.Reserve(ctx, e)
	_ = l.MarkExecuted(ctx, e.Key)
	if err := l.MarkSettled(ctx, e.Key, ""); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("MarkSettled without hash: got %v, want ErrInvalidEntry", err)
	}
}

func TestReserveRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	l := mustOpen(t, newTestDB(t).db)
	cases := map[string]func(*Entry){
		"empty network":     func(e *Entry) { e.Network = "" },
		"network not caip2": func(e *Entry) { e.Network = "base" },
		"short asset":       func(e *Entry) { e.Asset = "0x1234" },
		"asset not hex":     func(e *Entry) { e.Asset = "0x" + strings.Repeat("z", 40) },
		"payer no 0x":       func(e *Entry) { e.Payer = strings.Repeat("a", 40) },
		"nil amount":        func(e *Entry) { e.Amount = nil },
		"negative amount":   func(e *Entry) { e.Amount = big.NewInt(-1) },
		"huge amount":       func(e *Entry) { e.Amount = new(big.Int).Lsh(big.NewInt(1), 300) },
		"long request id":   func(e *Entry) { e.RequestID = strings.Repeat("r", MaxIDLen+1) },
		"huge payload":      func(e *Entry) { e.Payload = make([]byte, MaxBlobLen+1) },
		"space in network":  func(e *Entry) { e.Network = "eip155: 1" },
		"control in payer":  func(e *Entry) { e.Network, e.Payer = "solana:x", "a\x00b" },
	}
	for name, mod := range cases {
		e := testEntry(9)
		mod(&e)
		if err := l.Reserve(ctx, e); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("%s: got %v, want ErrInvalidEntry", name, err)
		}
	}
	// Nothing was stored: the valid entry still reserves.
	if err := l.Reserve(ctx, testEntry(9)); err != nil {
		t.Fatalf("valid Reserve after rejects: %v", err)
	}
	// Non-EVM keys keep their case: base58 is case-sensitive.
	sol := testEntry(10)
	sol.Network, sol.Asset, sol.Payer = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "AbC"
	if err := l.Reserve(ctx, sol); err != nil {
		t.Fatal(err)
	}
	sol.Payer = "abc"
	if err := l.Reserve(ctx, sol); err != nil {
		t.Fatalf("case-distinct solana payer: %v", err)
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := mustOpen(t, newTestDB(t).db)
	if err := l.Reserve(ctx, testEntry(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reserve: got %v", err)
	}
	if _, err := l.Get(context.Background(), testKey(1)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancelled Reserve stored an entry: %v", err)
	}
}

func TestCompactKeepsKey(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := mustOpen(t, newTestDB(t).db, WithClock(func() time.Time { return now }))
	for i, final := range []State{StateSettled, StateReleased, StateExecuted} {
		e := testEntry(byte(i))
		if err := l.Reserve(ctx, e); err != nil {
			t.Fatal(err)
		}
		switch final {
		case StateSettled:
			_ = l.MarkExecuted(ctx, e.Key)
			_ = l.MarkSettled(ctx, e.Key, "0x01")
		case StateReleased:
			_ = l.Release(ctx, e.Key, "x")
		case StateExecuted:
			_ = l.MarkExecuted(ctx, e.Key)
		}
	}
	n, err := l.Compact(ctx, now.Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("Compact = %d, %v; want 2 terminal entries", n, err)
	}
	settled, _ := l.Get(ctx, testKey(0))
	if settled.Payload != nil || settled.TxHash != "0x01" || settled.State != StateSettled {
		t.Errorf("compacted entry = %+v", settled)
	}
	pending, _ := l.Get(ctx, testKey(2))
	if pending.Payload == nil {
		t.Error("Compact dropped the payload of an unsettled entry")
	}
	if err := l.Reserve(ctx, testEntry(0)); !errors.Is(err, ErrNonceUsed) {
		t.Errorf("Reserve after Compact: got %v, want ErrNonceUsed", err)
	}
}

func TestOpenNil(t *testing.T) {
	if _, err := Open(nil); err == nil {
		t.Fatal("Open(nil) succeeded")
	}
}

// TestUnwritableReservationStaysHeld: when the first write of a
// reservation fails, the key stays taken (its payment may be settling),
// the write can be tried again, and Forget lets the key go as a crash
// would, for a payment known not to be charged.
func TestUnwritableReservationStaysHeld(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t)
	l := mustOpen(t, d.db)
	e, other := testEntry(21), testEntry(22)
	for _, x := range []Entry{e, other} {
		if err := l.Reserve(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.MarkExecuted(ctx, e.Key); err != nil {
		t.Fatal(err)
	}
	if err := l.Forget(e.Key); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("Forget of an entry on disk: %v, want ErrInvalidTransition", err)
	}
	if err := d.db.Close(); err != nil {
		t.Fatal(err)
	}
	d.db = nil
	if err := l.MarkExecuted(ctx, other.Key); err == nil {
		t.Fatal("MarkExecuted on a closed database succeeded")
	}
	if err := l.Reserve(ctx, other); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("Reserve after the failed write: %v, want ErrNonceUsed (the key stays taken)", err)
	}
	if err := l.Forget(other.Key); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if err := l.Forget(other.Key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Forget twice: %v, want ErrNotFound", err)
	}
}
