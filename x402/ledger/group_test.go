package ledger

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A lone write commits at once: it never waits for a batch timer.
func TestGroupCommitLoneWriteDoesNotWait(t *testing.T) {
	d := newTestDB(t)
	d.db.MaxBatchDelay = time.Hour
	g := &groupCommit{db: d.db}
	start := time.Now()
	for i := range 5 {
		if err := g.update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("t"))
			if err != nil {
				return err
			}
			return b.Put(fmt.Appendf(nil, "k%d", i), []byte("v"))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("5 lone writes took %v", d)
	}
}

// Concurrent writes share transactions; one failing write gets its own
// error and takes no other write down with it.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	d := newTestDB(t)
	g := &groupCommit{db: d.db}
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 64)
	for i := range errs {
		wg.Go(func() {
			errs[i] = g.update(func(tx *bolt.Tx) error {
				if i%8 == 3 {
					return boom
				}
				b, err := tx.CreateBucketIfNotExists([]byte("t"))
				if err != nil {
					return err
				}
				return b.Put(fmt.Appendf(nil, "k%02d", i), []byte("v"))
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%8 == 3; errors.Is(err, boom) != want || (!want && err != nil) {
			t.Fatalf("write %d: err = %v", i, err)
		}
	}
	err := d.db.View(func(tx *bolt.Tx) error {
		n := tx.Bucket([]byte("t")).Stats().KeyN
		if n != 56 {
			return fmt.Errorf("%d keys stored, want 56", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The last leader may still be on its way out after the final write
	// returned; it must get there.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		idle := !g.leading && len(g.pending) == 0
		g.mu.Unlock()
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("group committer never went idle")
		}
	}
}
