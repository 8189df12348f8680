// Package boltgroup writes to a bbolt database with group commit: a write
// that finds no commit in progress commits at once, alone; writes that
// arrive while a commit is on its way to disk wait and then share the next
// transaction and its fsync. Unlike bolt.DB.Batch, whose batches are cut
// by a timer, a lone write never waits for company, and a busy database
// still pays one fsync per group rather than one per write. A deferred
// write (a record that is not urgent) starts no commit: it joins the next
// group, or commits after a delay when none comes.
package boltgroup

import (
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Committer commits the writes to one database in groups. It is safe for
// concurrent use.
type Committer struct {
	db *bolt.DB
	// delay bounds how long a deferred write waits for a group to join.
	delay time.Duration

	mu       sync.Mutex
	pending  []*groupCall
	deferred []*groupCall // writes that ride along with the next group
	timer    *time.Timer  // commits deferred writes nobody took along
	timerGen uint64       // identifies the current timer; stale ones do nothing
	leading  bool         // a goroutine is committing groups
}

// New returns a committer of db; delay bounds how long a deferred write
// waits for a group to join.
func New(db *bolt.DB, delay time.Duration) *Committer {
	return &Committer{db: db, delay: delay}
}

type groupCall struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// Update runs fn in a durable transaction, possibly shared with others. As
// with bolt.DB.Batch, fn may run more than once and must be idempotent: a
// group whose function fails is retried without it.
func (g *Committer) Update(fn func(*bolt.Tx) error) error {
	c := &groupCall{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if g.leading {
		g.mu.Unlock()
		return <-c.done
	}
	g.leading = true
	batch := g.takeLocked()
	g.mu.Unlock()

	g.commit(batch)
	// Whatever queued during our commit is committed by a new leader, so
	// this caller returns as soon as its own write is on disk.
	g.mu.Lock()
	if len(g.pending) == 0 {
		g.leading = false
		g.mu.Unlock()
	} else {
		g.mu.Unlock()
		go g.drain()
	}
	return <-c.done
}

// drain commits queued groups until the queue is empty.
func (g *Committer) drain() {
	for {
		g.mu.Lock()
		batch := g.takeLocked()
		if len(batch) == 0 {
			g.leading = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.commit(batch)
	}
}

// UpdateDeferred is Update for a write that need not reach disk at once:
// it joins the next group any other write starts, and commits on its own
// only when none starts within delay. It returns once the write is on
// disk, like update; it saves the fsync, not the durability.
func (g *Committer) UpdateDeferred(fn func(*bolt.Tx) error) error {
	c := &groupCall{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.deferred = append(g.deferred, c)
	if g.timer == nil {
		g.timerGen++
		gen := g.timerGen
		g.timer = time.AfterFunc(g.delay, func() { g.flushDeferred(gen) })
	}
	g.mu.Unlock()
	return <-c.done
}

// flushDeferred commits the deferred writes no group took along; gen is
// the timer's generation (a timer a leader stopped too late is stale).
func (g *Committer) flushDeferred(gen uint64) {
	g.mu.Lock()
	if gen != g.timerGen || g.timer == nil {
		g.mu.Unlock()
		return
	}
	g.timer = nil
	if g.leading || len(g.deferred) == 0 {
		// The running leader takes them with its next group.
		g.pending = append(g.pending, g.deferred...)
		g.deferred = nil
		g.mu.Unlock()
		return
	}
	g.leading = true
	g.mu.Unlock()
	g.drain()
}

// takeLocked hands the queued writes, deferred ones included, to a
// leader.
func (g *Committer) takeLocked() []*groupCall {
	batch := append(g.pending, g.deferred...)
	g.pending, g.deferred = nil, nil
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
		g.timerGen++
	}
	return batch
}

// commit runs a group in one transaction. If one function fails, it alone
// runs in a transaction of its own (so it gets its own error) and the rest
// are committed again without it.
func (g *Committer) commit(batch []*groupCall) {
	for len(batch) > 0 {
		failed := -1
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, c := range batch {
				if err := c.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range batch {
				c.done <- err
			}
			return
		}
		c := batch[failed]
		c.done <- g.db.Update(c.fn)
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
}
