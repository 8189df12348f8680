package ledger

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// groupCommit writes to bbolt with group commit: a write that finds no
// commit in progress commits at once, alone; writes that arrive while a
// commit is on its way to disk wait and then share the next transaction
// and its fsync. Unlike bolt.DB.Batch, whose batches are cut by a timer, a
// lone write never waits for company, and a busy ledger still pays one
// fsync per group rather than one per write.
type groupCommit struct {
	db *bolt.DB

	mu      sync.Mutex
	pending []*groupCall
	leading bool // a goroutine is committing groups
}

type groupCall struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// update runs fn in a durable transaction, possibly shared with others. As
// with bolt.DB.Batch, fn may run more than once and must be idempotent: a
// group whose function fails is retried without it.
func (g *groupCommit) update(fn func(*bolt.Tx) error) error {
	c := &groupCall{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if g.leading {
		g.mu.Unlock()
		return <-c.done
	}
	g.leading = true
	batch := g.pending
	g.pending = nil
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
func (g *groupCommit) drain() {
	for {
		g.mu.Lock()
		batch := g.pending
		g.pending = nil
		if len(batch) == 0 {
			g.leading = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.commit(batch)
	}
}

// commit runs a group in one transaction. If one function fails, it alone
// runs in a transaction of its own (so it gets its own error) and the rest
// are committed again without it.
func (g *groupCommit) commit(batch []*groupCall) {
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
