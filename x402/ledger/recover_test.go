package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentnet/agentnode/x402/ledger"
	"github.com/agentnet/agentnode/x402/ledger/ledgertest"
)

// node is one incarnation of a node: a database file and the ledger on
// it. crash closes the database without any further ledger call, and
// restart opens a new incarnation on the same file.
type node struct {
	t    *testing.T
	path string
	db   *bolt.DB
	l    *ledger.Ledger
	opts []ledger.Option
}

func newNode(t *testing.T, opts ...ledger.Option) *node {
	n := &node{t: t, path: filepath.Join(t.TempDir(), "node.db"), opts: opts}
	n.restart()
	t.Cleanup(func() { n.db.Close() })
	return n
}

func (n *node) restart() {
	n.t.Helper()
	if n.db != nil {
		if err := n.db.Close(); err != nil {
			n.t.Fatal(err)
		}
	}
	db, err := bolt.Open(n.path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		n.t.Fatal(err)
	}
	db.MaxBatchDelay = time.Millisecond
	l, err := ledger.Open(db, n.opts...)
	if err != nil {
		n.t.Fatal(err)
	}
	n.db, n.l = db, l
}

func entry(i int) ledger.Entry {
	e := ledger.Entry{
		Key: ledger.Key{
			Network: "eip155:1337",
			Asset:   "0x5fbdb2315678afecb367f032d93f642f64180aa3",
			Payer:   "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
		},
		PayTo:     "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
		Amount:    big.NewInt(10000),
		RequestID: fmt.Sprintf("r%d", i),
		Payload:   []byte(`{"payload":{}}`),
	}
	e.Nonce[0], e.Nonce[1] = byte(i>>8), byte(i)
	return e
}

func state(t *testing.T, l *ledger.Ledger, k ledger.Key) ledger.State {
	t.Helper()
	e, err := l.Get(context.Background(), k)
	if err != nil {
		t.Fatalf("Get %s: %v", k, err)
	}
	return e.State
}

// TestCrashAtEveryStep runs the paid-request flow and stops the node after
// each step, then restarts and recovers. Whatever the step, the payment is
// settled on chain at most once, exactly once if the work executed, and
// the ledger ends in the matching terminal state.
func TestCrashAtEveryStep(t *testing.T) {
	ctx := context.Background()
	steps := []string{"reserved", "executed", "sent", "settled"}
	for crashAfter := range steps {
		t.Run("after "+steps[crashAfter], func(t *testing.T) {
			n := newNode(t)
			chain := &ledgertest.Chain{}
			e := entry(1)
			// The live flow, stopped after step crashAfter.
			for i := 0; i <= crashAfter; i++ {
				var err error
				switch steps[i] {
				case "reserved":
					err = n.l.Reserve(ctx, e)
				case "executed":
					err = n.l.MarkExecuted(ctx, e.Key)
				case "sent":
					_, err = chain.Settle(ctx, e)
				case "settled":
					err = n.l.MarkSettled(ctx, e.Key, "0xlive")
				}
				if err != nil {
					t.Fatalf("step %s: %v", steps[i], err)
				}
			}
			n.restart()
			r, err := n.l.Recover(ctx, chain)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Retry) != 0 {
				t.Fatalf("retries: %+v", r.Retry)
			}
			// A second restart and recovery must change nothing.
			n.restart()
			if r2, err := n.l.Recover(ctx, chain); err != nil || len(r2.Settled)+len(r2.AlreadySettled)+len(r2.Released)+len(r2.Failed) != 0 {
				t.Fatalf("second Recover = %+v, %v; want nothing to do", r2, err)
			}
			if chain.Sends(e.Key) > 1 {
				t.Fatalf("settlement sent %d times", chain.Sends(e.Key))
			}
			if crashAfter == 0 {
				// The reservation was in memory only: the work it guarded
				// returned nothing and settled nothing, so the payment is
				// unspent and may be presented again, once.
				if _, err := n.l.Get(ctx, e.Key); !errors.Is(err, ledger.ErrNotFound) || chain.Settlements(e.Key) != 0 {
					t.Fatalf("Get = %v, settlements %d; want no entry and none", err, chain.Settlements(e.Key))
				}
				if err := n.l.Reserve(ctx, e); err != nil {
					t.Fatalf("Reserve again after recovery: %v", err)
				}
			} else if got := state(t, n.l, e.Key); got != ledger.StateSettled || chain.Settlements(e.Key) != 1 {
				t.Fatalf("state %s, settlements %d; want settled once", got, chain.Settlements(e.Key))
			}
			if err := n.l.Reserve(ctx, e); !errors.Is(err, ledger.ErrNonceUsed) {
				t.Fatalf("Reserve after recovery: %v", err)
			}
		})
	}
}

// TestCrashInsideRecover stops the node inside Recover itself: after the
// chain check and after the settlement was sent but before it was
// recorded. The next start settles exactly once.
func TestCrashInsideRecover(t *testing.T) {
	ctx := context.Background()
	crash := errors.New("simulated crash")
	for _, point := range []string{ledger.FaultAfterCheck, ledger.FaultAfterSettle} {
		t.Run(point, func(t *testing.T) {
			armed := true
			n := newNode(t, ledger.WithFault(func(p string, _ ledger.Key) error {
				if armed && p == point {
					return crash
				}
				return nil
			}))
			chain := &ledgertest.Chain{}
			e := entry(2)
			if err := n.l.Reserve(ctx, e); err != nil {
				t.Fatal(err)
			}
			if err := n.l.MarkExecuted(ctx, e.Key); err != nil {
				t.Fatal(err)
			}
			n.restart()
			if _, err := n.l.Recover(ctx, chain); !errors.Is(err, crash) {
				t.Fatalf("Recover with fault: got %v", err)
			}
			armed = false
			n.restart()
			r, err := n.l.Recover(ctx, chain)
			if err != nil {
				t.Fatal(err)
			}
			if chain.Sends(e.Key) != 1 || chain.Settlements(e.Key) != 1 {
				t.Fatalf("sends %d, settlements %d; want 1 and 1", chain.Sends(e.Key), chain.Settlements(e.Key))
			}
			if state(t, n.l, e.Key) != ledger.StateSettled {
				t.Fatalf("state %s", state(t, n.l, e.Key))
			}
			wantAlready := point == ledger.FaultAfterSettle
			if (len(r.AlreadySettled) == 1) != wantAlready || (len(r.Settled) == 1) == wantAlready {
				t.Fatalf("report %+v", r)
			}
		})
	}
}

func TestRecoverTransientThenRetry(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	chain := &ledgertest.Chain{SettleErr: errors.New("rpc: connection refused")}
	e := entry(3)
	_ = n.l.Reserve(ctx, e)
	_ = n.l.MarkExecuted(ctx, e.Key)
	n.restart()
	r, err := n.l.Recover(ctx, chain)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Retry) != 1 || r.Retry[0].Key != e.Key || state(t, n.l, e.Key) != ledger.StateExecuted {
		t.Fatalf("report %+v, state %s; want one retry, still executed", r, state(t, n.l, e.Key))
	}
	chain.SettleErr = nil
	if r, err = n.l.Recover(ctx, chain); err != nil || len(r.Settled) != 1 {
		t.Fatalf("retry Recover = %+v, %v", r, err)
	}
	if chain.Settlements(e.Key) != 1 {
		t.Fatal("not settled once")
	}
	chain.CheckErr = errors.New("rpc down")
	if r, err = n.l.Recover(ctx, chain); err != nil || len(r.Retry) != 0 {
		t.Fatalf("Recover with nothing pending = %+v, %v", r, err)
	}
}

func TestRecoverRejectedMarksFailed(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	e1, e2 := entry(4), entry(5)
	chain := &ledgertest.Chain{Cancelled: map[ledger.Key]bool{e1.Key: true}}
	for _, e := range []ledger.Entry{e1, e2} {
		_ = n.l.Reserve(ctx, e)
		_ = n.l.MarkExecuted(ctx, e.Key)
	}
	n.restart()
	r, err := n.l.Recover(ctx, chain)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Failed) != 1 || r.Failed[0] != e1.Key || len(r.Settled) != 1 || r.Settled[0] != e2.Key {
		t.Fatalf("report %+v", r)
	}
	got, _ := n.l.Get(ctx, e1.Key)
	if got.State != ledger.StateFailed || got.Reason == "" {
		t.Fatalf("cancelled entry = %+v", got)
	}
}

// TestRecoverLeavesLiveRequestsAlone: an entry a live request of this
// process reserved is not touched by a concurrent Recover, so a periodic
// Recover cannot settle a payment the request is about to settle.
func TestRecoverLeavesLiveRequestsAlone(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	chain := &ledgertest.Chain{}
	live, stale := entry(6), entry(7)
	_ = n.l.Reserve(ctx, stale)
	_ = n.l.MarkExecuted(ctx, stale.Key)
	n.restart()
	if err := n.l.Reserve(ctx, live); err != nil {
		t.Fatal(err)
	}
	if err := n.l.MarkExecuted(ctx, live.Key); err != nil {
		t.Fatal(err)
	}
	pending, err := n.l.Pending(ctx)
	if err != nil || len(pending) != 1 || pending[0].Key != stale.Key {
		t.Fatalf("Pending = %v, %v; want only the stale entry", pending, err)
	}
	r, err := n.l.Recover(ctx, chain)
	if err != nil || len(r.Settled) != 1 || chain.Sends(live.Key) != 0 {
		t.Fatalf("Recover = %+v, %v, live sends %d", r, err, chain.Sends(live.Key))
	}
	if err := n.l.MarkSettled(ctx, live.Key, "0xlive"); err != nil {
		t.Fatal(err)
	}
}

// TestPeriodicRecoverNeverReleasesALiveReservation runs Recover in a loop
// while requests reserve and execute: every reservation that Reserve
// returned must still be the request's to mark executed. (Reserve once
// claimed its entry only after the commit, and a Recover in between
// released it.)
func TestPeriodicRecoverNeverReleasesALiveReservation(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	chain := &ledgertest.Chain{}
	stop := make(chan struct{})
	recovered := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				recovered <- nil
				return
			default:
			}
			if r, err := n.l.Recover(ctx, chain); err != nil || len(r.Released) != 0 {
				recovered <- fmt.Errorf("Recover = %+v, %v: released a live reservation", r, err)
				return
			}
		}
	}()
	for i := range 300 {
		e := entry(1000 + i)
		if err := n.l.Reserve(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := n.l.MarkExecuted(ctx, e.Key); err != nil {
			t.Fatalf("reservation %d: %v", i, err)
		}
		if err := n.l.MarkSettled(ctx, e.Key, "0xtx"); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-recovered; err != nil {
		t.Fatal(err)
	}
}

func TestRecoverManyPending(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	chain := &ledgertest.Chain{}
	const count = 200
	for i := range count {
		e := entry(100 + i)
		_ = n.l.Reserve(ctx, e)
		_ = n.l.MarkExecuted(ctx, e.Key)
		if i%3 == 0 {
			chain.Use(e.Key, fmt.Sprintf("0x%x", i)) // sent before the stop
		}
	}
	n.restart()
	r, err := n.l.Recover(ctx, chain)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Settled)+len(r.AlreadySettled) != count || len(r.AlreadySettled) != (count+2)/3 {
		t.Fatalf("settled %d, already %d", len(r.Settled), len(r.AlreadySettled))
	}
	for i := range count {
		k := entry(100 + i).Key
		if chain.Sends(k) > 1 || chain.Settlements(k) != 1 {
			t.Fatalf("key %d: sends %d settlements %d", i, chain.Sends(k), chain.Settlements(k))
		}
	}
	if p, _ := n.l.Pending(ctx); len(p) != 0 {
		t.Fatalf("%d still pending", len(p))
	}
}

// TestRecoverReleasesOldReservations: a ledger written before reservations
// moved to memory may hold reserved entries on disk, whose work a stop cut
// off. Recover releases them, charging nothing, and their keys stay used.
func TestRecoverReleasesOldReservations(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	e := entry(7)
	if err := ledger.WriteReservation(n.l, e); err != nil {
		t.Fatal(err)
	}
	n.restart()
	chain := &ledgertest.Chain{}
	r, err := n.l.Recover(ctx, chain)
	if err != nil || len(r.Released) != 1 || r.Released[0] != e.Key || len(r.Settled)+len(r.AlreadySettled)+len(r.Failed)+len(r.Retry) != 0 {
		t.Fatalf("Recover = %+v, %v; want the reservation released", r, err)
	}
	if got := state(t, n.l, e.Key); got != ledger.StateReleased || chain.Sends(e.Key) != 0 {
		t.Fatalf("state %s, %d sends; want released and none", got, chain.Sends(e.Key))
	}
	if err := n.l.Reserve(ctx, e); !errors.Is(err, ledger.ErrNonceUsed) {
		t.Fatalf("Reserve of a released key: %v", err)
	}
}
