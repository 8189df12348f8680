package node_test

import (
	"context"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/ledger"
	"github.com/agentnet/agentnode/x402/x402test"
)

// TestLedgerCompactedAtStart: a node drops the payment material of ledger
// entries that ended more than a day ago, soon after it starts (in the
// background, counted by agentnode_ledger_compacted_total), and keeps
// their keys (the nonce stays used) and that of younger and unfinished
// entries.
func TestLedgerCompactedAtStart(t *testing.T) {
	ctx := context.Background()
	env := x402test.NewEnv(t, chain.Config{})
	dir := t.TempDir()
	entry := func(nonce byte) ledger.Entry {
		return ledger.Entry{
			Key:          ledger.Key{Network: "eip155:1337", Asset: env.Token.Hex(), Payer: env.Payer.Hex(), Nonce: [32]byte{nonce + 1}},
			PayTo:        env.PayTo.Hex(),
			Amount:       big.NewInt(testPrice),
			RequestID:    "req",
			Requirements: []byte(`{"scheme":"exact"}`),
			Payload:      []byte(`{"x402Version":2}`),
		}
	}
	old, young, open := entry(0), entry(1), entry(2)
	db, err := bolt.Open(filepath.Join(dir, "node.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		e       ledger.Entry
		age     time.Duration
		release bool
	}{{old, 25 * time.Hour, true}, {young, time.Hour, true}, {open, 25 * time.Hour, false}} {
		l, err := ledger.Open(db, ledger.WithClock(func() time.Time { return time.Now().Add(-tc.age) }))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Reserve(ctx, tc.e); err != nil {
			t.Fatal(err)
		}
		if err := l.MarkExecuted(ctx, tc.e.Key); err != nil {
			t.Fatal(err)
		}
		if tc.release {
			if err := l.MarkFailed(ctx, tc.e.Key, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	n := nodetest.StartConfig(t, paidConfig(env, dir, testPrice))
	// Compaction runs in the background, off the start-up path.
	for deadline := time.Now().Add(10 * time.Second); metric(get(t, n.BridgeURL()+"/metrics"), "agentnode_ledger_compacted_total") < 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no entry compacted 10 s after start")
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if e := ledgerEntry(t, dir, old.Key); e.Payload != nil || e.Requirements != nil || e.State != ledger.StateFailed {
		t.Errorf("entry ended 25 h ago: state %s, payload %q, requirements %q; want failed, both dropped", e.State, e.Payload, e.Requirements)
	}
	if e := ledgerEntry(t, dir, young.Key); e.Payload == nil || e.Requirements == nil {
		t.Errorf("entry ended an hour ago lost its payment material")
	}
	// The executed entry was settled or refused by recovery at start just
	// now, so it is kept whole whatever became of it.
	if e := ledgerEntry(t, dir, open.Key); e.Payload == nil {
		t.Errorf("entry recovered at start lost its payment material (state %s)", e.State)
	}
}
