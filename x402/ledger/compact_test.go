package ledger

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// manyEntries writes n entries, released one second apart from start;
// it returns their keys.
func manyEntries(t *testing.T, l *Ledger, clock *time.Time, start time.Time, n int) []Key {
	t.Helper()
	ctx := context.Background()
	keys := make([]Key, n)
	for i := range n {
		*clock = start.Add(time.Duration(i) * time.Second)
		e := testEntry(0)
		binary.BigEndian.PutUint32(e.Key.Nonce[1:], uint32(i))
		if err := l.Reserve(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx, e.Key, "x"); err != nil {
			t.Fatal(err)
		}
		keys[i] = e.Key
	}
	return keys
}

func compactIndexLen(t *testing.T, db *bolt.DB) int {
	t.Helper()
	n := 0
	if err := db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(rootBucket).Bucket(compactBucket).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCompactWalksWhatEnded: compaction strips exactly the entries that
// ended before its cutoff, oldest first, in as many batches as it takes,
// and leaves in its index only what it has still to do.
func TestCompactWalksWhatEnded(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := start
	l := mustOpen(t, d.db, WithClock(func() time.Time { return clock }))
	n := 2*compactBatch + 500
	keys := manyEntries(t, l, &clock, start, n)
	if got := compactIndexLen(t, d.db); got != n {
		t.Fatalf("index holds %d entries, want %d", got, n)
	}
	cut := compactBatch + 100 // entries [0, cut) ended before the cutoff
	stripped, err := l.Compact(ctx, start.Add(time.Duration(cut)*time.Second))
	if err != nil || stripped != cut {
		t.Fatalf("Compact = %d, %v; want %d", stripped, err, cut)
	}
	for _, i := range []int{0, cut - 1, cut, n - 1} {
		e, err := l.Get(ctx, keys[i])
		if err != nil {
			t.Fatal(err)
		}
		if done := e.Payload == nil && e.Requirements == nil; done != (i < cut) {
			t.Errorf("entry %d: stripped %v, want %v", i, done, i < cut)
		}
	}
	if got := compactIndexLen(t, d.db); got != n-cut {
		t.Fatalf("index holds %d entries after compaction, want %d", got, n-cut)
	}
	stripped, err = l.Compact(ctx, clock.Add(time.Hour))
	if err != nil || stripped != n-cut {
		t.Fatalf("second Compact = %d, %v; want %d", stripped, err, n-cut)
	}
	if got := compactIndexLen(t, d.db); got != 0 {
		t.Fatalf("index holds %d entries when all are compacted", got)
	}
}

// TestCompactionIndexBuiltForOldLedgers: a ledger written before the
// compaction index existed gets it, once, when opened, and its entries
// are compacted.
func TestCompactionIndexBuiltForOldLedgers(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := start
	l := mustOpen(t, d.db, WithClock(func() time.Time { return clock }))
	keys := manyEntries(t, l, &clock, start, 10)
	if err := d.db.Update(func(tx *bolt.Tx) error { // as before the index
		root := tx.Bucket(rootBucket)
		if err := root.DeleteBucket(compactBucket); err != nil {
			return err
		}
		return root.Delete(compactIndexedKey)
	}); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, d.db, WithClock(func() time.Time { return clock }))
	if got := compactIndexLen(t, d.db); got != len(keys) {
		t.Fatalf("index built with %d entries, want %d", got, len(keys))
	}
	if n, err := l.Compact(ctx, clock.Add(time.Hour)); err != nil || n != len(keys) {
		t.Fatalf("Compact = %d, %v; want %d", n, err, len(keys))
	}
	mustOpen(t, d.db) // the mark stays: the index is not built again
	if got := compactIndexLen(t, d.db); got != 0 {
		t.Fatalf("index rebuilt on the next open: %d entries", got)
	}
}
