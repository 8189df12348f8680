package boltgroup

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A lone write commits at once: it never waits for a batch timer.
func TestGroupCommitLoneWriteDoesNotWait(t *testing.T) {
	d := newTestDB(t)
	d.db.MaxBatchDelay = time.Hour
	g := New(d.db, 0)
	start := time.Now()
	for i := range 5 {
		if err := g.Update(func(tx *bolt.Tx) error {
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
	g := New(d.db, 0)
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 64)
	for i := range errs {
		wg.Go(func() {
			errs[i] = g.Update(func(tx *bolt.Tx) error {
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

// putKey is a write of key k into bucket t.
func putKey(k string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("t"))
		if err != nil {
			return err
		}
		return b.Put([]byte(k), []byte("v"))
	}
}

// A deferred write waits for the next group (however long its own delay)
// and commits with it.
func TestGroupCommitDeferredRidesAlong(t *testing.T) {
	d := newTestDB(t)
	g := New(d.db, time.Hour)
	done := make(chan error, 1)
	go func() { done <- g.UpdateDeferred(putKey("deferred")) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		queued := len(g.deferred) == 1
		g.mu.Unlock()
		if queued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("deferred write never queued")
		}
	}
	select {
	case err := <-done:
		t.Fatalf("deferred write returned (%v) before any group committed it", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := g.Update(putKey("lead")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	err := d.db.View(func(tx *bolt.Tx) error {
		for _, k := range []string{"deferred", "lead"} {
			if tx.Bucket([]byte("t")).Get([]byte(k)) == nil {
				return fmt.Errorf("%s not stored", k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timer != nil || len(g.deferred) != 0 {
		t.Fatal("the group left the deferred timer or queue behind")
	}
}

// A deferred write with no company commits on its own after the delay,
// and a failing one gets its own error.
func TestGroupCommitDeferredAlone(t *testing.T) {
	d := newTestDB(t)
	g := New(d.db, 10*time.Millisecond)
	start := time.Now()
	if err := g.UpdateDeferred(putKey("alone")); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 10*time.Millisecond {
		t.Fatalf("a lone deferred write committed after %v, before its delay", took)
	}
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			if i%4 == 0 {
				errs[i] = g.UpdateDeferred(func(*bolt.Tx) error { return boom })
				return
			}
			if i%2 == 0 {
				errs[i] = g.UpdateDeferred(putKey(fmt.Sprint(i)))
				return
			}
			errs[i] = g.Update(putKey(fmt.Sprint(i)))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%4 == 0; errors.Is(err, boom) != want || (!want && err != nil) {
			t.Fatalf("write %d: err = %v", i, err)
		}
	}
}

type testDB struct{ db *bolt.DB }

func newTestDB(t testing.TB) *testDB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "test.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("open db: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return &testDB{db: db}
}
