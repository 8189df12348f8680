// Package ledger is the node's persistent payment journal. Every x402
// payment the node accepts is reserved here, keyed by its EIP-3009
// authorization (network, asset, payer, nonce), before any paid work
// starts, and then moves through reserved -> executed -> settled (or
// released, or failed). A key is accepted at most once: concurrently,
// later, and across restarts, a second Reserve fails with [ErrNonceUsed].
// The one exception is a reservation that a crash cut off before its
// execution was recorded; reservations live in memory until then (see
// [Ledger.Reserve]), so such a payment, which returned nothing, can be
// presented again (and is refused by the chain if its settlement went out).
//
// The ledger lives in a bucket of the node's own bbolt database, which the
// caller opens and closes. On start, [Ledger.Recover] settles the entries
// that executed but did not settle before the node stopped, asking the
// chain first (through a [Settler]) so that nothing settles twice and
// nothing is lost.
package ledger

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentnet/agentnode/internal/boltgroup"
)

// Bucket names. The root bucket holds the entries, one index bucket per
// non-terminal state, so that recovery never scans the whole history, and
// the index of entries compaction has still to strip (compact.go).
var (
	rootBucket     = []byte("agentnode.x402.ledger.v1")
	entriesBucket  = []byte("entries")
	reservedBucket = []byte("reserved")
	executedBucket = []byte("executed")
	compactBucket  = []byte("compact")
)

// Ledger is the payment journal. It is safe for concurrent use.
type Ledger struct {
	db    *bolt.DB
	log   *slog.Logger
	now   func() time.Time
	batch bool
	group *boltgroup.Committer
	// fault, when set by a test, is called at named points of Recover; an
	// error it returns aborts Recover there, simulating a crash.
	fault func(point string, k Key) error

	mu sync.Mutex
	// inflight holds the keys this process reserved (or is recovering)
	// and has not yet brought to a terminal state. Recover leaves them to
	// the request that owns them. A reservation not yet written (before
	// its MarkExecuted or Release) keeps its entry here; a key whose entry
	// is on disk maps to nil.
	inflight map[string]*Entry
}

// Option configures a Ledger.
type Option func(*Ledger)

// WithLogger sets the logger for recovery events; nil discards. Payloads
// and signatures are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(g *Ledger) {
		if l != nil {
			g.log = l
		}
	}
}

// WithClock replaces time.Now for the Created and Updated stamps, for
// deterministic tests.
func WithClock(now func() time.Time) Option {
	return func(g *Ledger) {
		if now != nil {
			g.now = now
		}
	}
}

// WithBatch chooses how writes reach disk. With batching on (the
// default) writes use group commit: a lone write commits at once, and
// writes that arrive while a commit is in flight share the next
// transaction and fsync. With batching off every write is its own
// transaction and fsync (bolt.DB.Update). Durability is the same: a write
// returns only after it is on disk.
func WithBatch(on bool) Option {
	return func(g *Ledger) { g.batch = on }
}

// Open creates the ledger's buckets in db if needed and returns the
// ledger. The caller owns db and closes it after the last use of the
// ledger.
func Open(db *bolt.DB, opts ...Option) (*Ledger, error) {
	if db == nil {
		return nil, fmt.Errorf("open ledger: nil database")
	}
	l := &Ledger{
		db:       db,
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:      time.Now,
		batch:    true,
		inflight: make(map[string]*Entry),
	}
	l.group = boltgroup.New(db, settledDelay)
	for _, o := range opts {
		o(l)
	}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(rootBucket)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{entriesBucket, reservedBucket, executedBucket, compactBucket} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return indexForCompaction(root)
	})
	if err != nil {
		return nil, fmt.Errorf("open ledger: create buckets: %w", err)
	}
	return l, nil
}

func (l *Ledger) update(fn func(*bolt.Tx) error) error {
	if l.batch {
		return l.group.Update(fn)
	}
	return l.db.Update(fn)
}

type buckets struct{ entries, reserved, executed, compact *bolt.Bucket }

func open(tx *bolt.Tx) (buckets, error) {
	root := tx.Bucket(rootBucket)
	if root == nil {
		return buckets{}, fmt.Errorf("ledger bucket missing: %w", ErrCorrupt)
	}
	b := buckets{root.Bucket(entriesBucket), root.Bucket(reservedBucket), root.Bucket(executedBucket), root.Bucket(compactBucket)}
	if b.entries == nil || b.reserved == nil || b.executed == nil || b.compact == nil {
		return buckets{}, fmt.Errorf("ledger sub-bucket missing: %w", ErrCorrupt)
	}
	return b, nil
}

func (b buckets) index(s State) *bolt.Bucket {
	switch s {
	case StateReserved:
		return b.reserved
	case StateExecuted:
		return b.executed
	}
	return nil
}

// Reserve records e in state reserved, atomically: if the ledger has ever
// seen e's key, in any state, or holds it reserved now, it fails with
// ErrNonceUsed and changes nothing. Reserve must succeed before any paid
// work starts.
//
// The reservation is held in memory; the entry reaches disk with the
// first transition, MarkExecuted (before any result can be released) or
// Release. A reservation lost in a crash is therefore simply gone: its
// work returned nothing, and the payer's authorization is spent at most
// by a settlement already sent (once; the chain refuses a second use), so
// when unspent it may be presented again and is then charged once.
// Writing the reservation too would cost an fsync on every paid request's
// critical path and buy only a refusal of that retry.
func (l *Ledger) Reserve(ctx context.Context, e Entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reserve payment: %w", err)
	}
	var err error
	if e.Key, err = e.Key.canonical(); err != nil {
		return fmt.Errorf("reserve payment: %w", err)
	}
	if err := e.validate(); err != nil {
		return fmt.Errorf("reserve payment %s: %w", e.Key, err)
	}
	now := l.now().UTC()
	e.State, e.TxHash, e.Reason, e.Created, e.Updated = StateReserved, "", "", now, now
	// Claimed first, then checked on disk: only the holder of a key's
	// claim writes a new entry for it, so no entry can appear between the
	// check and the claim's release.
	if !l.claim(e.Key, &e) {
		return fmt.Errorf("reserve payment %s: %w", e.Key, ErrNonceUsed)
	}
	key := e.Key.bytes()
	err = l.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		if b.entries.Get(key) != nil {
			return ErrNonceUsed
		}
		return nil
	})
	if err != nil {
		l.unclaim(e.Key)
		return fmt.Errorf("reserve payment %s: %w", e.Key, err)
	}
	return nil
}

// MarkExecuted records that the paid work ran; its result must now wait
// for settlement. Allowed only from reserved.
func (l *Ledger) MarkExecuted(ctx context.Context, k Key) error {
	_, err := l.transition(ctx, k, StateExecuted, nil)
	return err
}

// settledDelay is how long a settled record waits for another write to
// share its commit (group commit only).
const settledDelay = 20 * time.Millisecond

// MarkSettled records the settlement transaction. Allowed only from
// executed; txHash must not be empty.
//
// The record is not urgent: until it is on disk the entry stays executed,
// and a recovery after a crash finds the authorization used on chain and
// marks it settled without sending it again. So with group commit it
// rides along with the next write of another payment (their reservation
// or execution record) and commits alone only when none comes within
// 20 ms: one fsync fewer per payment under load, and no commit of its own
// for the payments on their critical path to wait behind. It returns once
// the record is on disk.
func (l *Ledger) MarkSettled(ctx context.Context, k Key, txHash string) error {
	if txHash == "" {
		return fmt.Errorf("mark %s settled: empty transaction hash: %w", k, ErrInvalidEntry)
	}
	write := l.update
	if l.batch {
		write = l.group.UpdateDeferred
	}
	_, err := l.transitionWith(ctx, k, StateSettled, func(e *Entry) { e.TxHash = txHash }, write)
	return err
}

// Release records that the work failed before doing anything, so the
// payment will never be settled. Allowed only from reserved. The key stays
// used: the payer's authorization is still valid on chain, and a released
// key that could be reserved again would let one signed payment be
// presented over and over; x402 clients sign a fresh nonce per attempt.
func (l *Ledger) Release(ctx context.Context, k Key, reason string) error {
	_, err := l.transition(ctx, k, StateReleased, func(e *Entry) { e.Reason = truncateReason(reason) })
	return err
}

// MarkFailed records that settlement was definitively refused; the
// result must never be returned. Allowed only from executed.
func (l *Ledger) MarkFailed(ctx context.Context, k Key, reason string) error {
	_, err := l.transition(ctx, k, StateFailed, func(e *Entry) { e.Reason = truncateReason(reason) })
	return err
}

// transition moves the entry of k to state to in one transaction, after
// checking the move is allowed. mutate may set the fields that go with the
// new state. On any error nothing changes on disk; a reservation held in
// memory whose first write fails stays held (see Forget).
func (l *Ledger) transition(ctx context.Context, k Key, to State, mutate func(*Entry)) (Entry, error) {
	return l.transitionWith(ctx, k, to, mutate, l.update)
}

// transitionWith is transition through the given write path.
func (l *Ledger) transitionWith(ctx context.Context, k Key, to State, mutate func(*Entry), write func(func(*bolt.Tx) error) error) (Entry, error) {
	var out Entry
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("mark %s %s: %w", k, to, err)
	}
	k, err := k.canonical()
	if err != nil {
		return out, fmt.Errorf("mark %s: %w", to, err)
	}
	key := k.bytes()
	// A reservation held in memory is written here for the first time.
	held, err := l.takeReservation(key, to)
	if err != nil {
		return Entry{}, fmt.Errorf("mark %s %s: %w", k, to, err)
	}
	err = write(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		raw := b.entries.Get(key)
		var e Entry
		switch {
		case held != nil && raw != nil:
			return fmt.Errorf("a reserved key already has an entry: %w", ErrCorrupt)
		case held != nil:
			e = *held
		case raw == nil:
			return ErrNotFound
		default:
			if e, err = decodeEntry(raw); err != nil {
				return err
			}
		}
		if !e.State.allowed(to) {
			return fmt.Errorf("%s -> %s: %w", e.State, to, ErrInvalidTransition)
		}
		from := e.State
		e.State, e.Updated = to, l.now().UTC()
		if mutate != nil {
			mutate(&e)
		}
		if err := e.validate(); err != nil {
			return err
		}
		val, err := encodeEntry(&e)
		if err != nil {
			return err
		}
		if err := b.entries.Put(key, val); err != nil {
			return err
		}
		if ix := b.index(from); ix != nil {
			if err := ix.Delete(key); err != nil {
				return err
			}
		}
		if ix := b.index(to); ix != nil {
			if err := ix.Put(key, nil); err != nil {
				return err
			}
		}
		if err := b.indexIfCompactable(key, &e); err != nil {
			return err
		}
		out = e
		return nil
	})
	if err != nil {
		if held != nil {
			// A reservation that cannot be written stays reserved in
			// memory, as it was before the call: its payment may be
			// settling already, so the key must stay taken until the
			// caller retries the write or, knowing nothing was charged,
			// forgets it.
			l.putBack(key, held)
		}
		return Entry{}, fmt.Errorf("mark %s %s: %w", k, to, err)
	}
	l.unclaimIfTerminal(key, to)
	return out, nil
}

// takeReservation takes the in-memory reservation of key out of inflight
// (leaving the key claimed) for its move to state to, or returns nil when
// key has none. A move a reservation may not make is refused and leaves
// it in place.
func (l *Ledger) takeReservation(key []byte, to State) (*Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	held := l.inflight[string(key)]
	switch {
	case held == nil:
		return nil, nil
	case !StateReserved.allowed(to):
		return nil, fmt.Errorf("%s -> %s: %w", StateReserved, to, ErrInvalidTransition)
	}
	l.inflight[string(key)] = nil
	return held, nil
}

// putBack returns a reservation taken by takeReservation whose write failed.
func (l *Ledger) putBack(key []byte, held *Entry) {
	l.mu.Lock()
	l.inflight[string(key)] = held
	l.mu.Unlock()
}

// Forget drops the reservation of k held in memory, as a crash would:
// for a payment whose first write failed and that was not charged, so
// that its authorization, still unspent, may be presented again. A key
// with an entry on disk is not forgotten (ErrInvalidTransition).
func (l *Ledger) Forget(k Key) error {
	k, err := k.canonical()
	if err != nil {
		return fmt.Errorf("forget %s: %w", k, err)
	}
	key := string(k.bytes())
	l.mu.Lock()
	defer l.mu.Unlock()
	held, ok := l.inflight[key]
	switch {
	case !ok:
		return fmt.Errorf("forget %s: %w", k, ErrNotFound)
	case held == nil:
		return fmt.Errorf("forget %s: its entry is on disk: %w", k, ErrInvalidTransition)
	}
	delete(l.inflight, key)
	return nil
}

// unclaimIfTerminal lets go of key once its entry reached a terminal state.
func (l *Ledger) unclaimIfTerminal(key []byte, to State) {
	if to.Terminal() {
		l.mu.Lock()
		delete(l.inflight, string(key))
		l.mu.Unlock()
	}
}

// Get returns the entry of k.
func (l *Ledger) Get(ctx context.Context, k Key) (Entry, error) {
	var e Entry
	if err := ctx.Err(); err != nil {
		return e, fmt.Errorf("get %s: %w", k, err)
	}
	k, err := k.canonical()
	if err != nil {
		return e, fmt.Errorf("get entry: %w", err)
	}
	l.mu.Lock()
	held := l.inflight[string(k.bytes())]
	l.mu.Unlock()
	if held != nil {
		return *held, nil
	}
	err = l.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		raw := b.entries.Get(k.bytes())
		if raw == nil {
			return ErrNotFound
		}
		e, err = decodeEntry(raw)
		return err
	})
	if err != nil {
		return Entry{}, fmt.Errorf("get %s: %w", k, err)
	}
	return e, nil
}

// Pending lists the entries that executed but are not settled or failed,
// oldest first, leaving out those a live request of this process is still
// settling. At start, before serving, that is every such entry: the input
// of Recover.
func (l *Ledger) Pending(ctx context.Context) ([]Entry, error) {
	return l.listIndex(ctx, StateExecuted)
}

// Reserved lists the reserved entries no live request of this process
// owns, oldest first: after a restart, reservations whose work was cut off.
func (l *Ledger) Reserved(ctx context.Context) ([]Entry, error) {
	return l.listIndex(ctx, StateReserved)
}

func (l *Ledger) listIndex(ctx context.Context, s State) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %s entries: %w", s, err)
	}
	var out []Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return b.index(s).ForEach(func(k, _ []byte) error {
			if _, busy := l.inflight[string(k)]; busy {
				return nil
			}
			raw := b.entries.Get(k)
			if raw == nil {
				return fmt.Errorf("index %s names a missing entry: %w", s, ErrCorrupt)
			}
			e, err := decodeEntry(raw)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list %s entries: %w", s, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// claim marks k as handled by this process, holding reservation r (nil
// for an entry already on disk); it reports false if a live request or
// another Recover already handles it.
func (l *Ledger) claim(k Key, r *Entry) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := string(k.bytes())
	if _, busy := l.inflight[key]; busy {
		return false
	}
	l.inflight[key] = r
	return true
}

func (l *Ledger) unclaim(k Key) {
	l.mu.Lock()
	delete(l.inflight, string(k.bytes()))
	l.mu.Unlock()
}
