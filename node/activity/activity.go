// Package activity keeps a node's recent executions and payments in a
// bounded ring: the exec core, the remote-call path and the payment side
// append to it, and the status page (node/ui) reads it. Old events fall
// off the end and nothing is persisted; the payment ledger (x402/ledger)
// is the durable record, this is what an operator watches.
package activity

import (
	"sync"
	"time"

	"github.com/agentnet/agentnode/node/api"
)

// DefaultSize is the number of events a Log keeps when New is given no
// size: enough for a screenful of a busy node, a few hundred KiB at most.
const DefaultSize = 256

// Kind says what an event is from the recording node's point of view.
type Kind string

// Event kinds.
const (
	// Served is a run this node executed for a caller: a network peer
	// or a user of its bridge.
	Served Kind = "served"
	// Called is a call this node made to an agent of the network (it paid,
	// when the agent has a price).
	Called Kind = "called"
	// Settled is a payment whose settlement was pending when its result
	// was refused and that the node settled (or saw refused) later.
	Settled Kind = "settled"
)

// OK is the Outcome of an event that succeeded; any other outcome is the
// bridge's error code (api.Code...).
const OK = "ok"

// Event is one execution, call or late settlement.
type Event struct {
	// Seq numbers the events of one Log from 1, in the order they were
	// added.
	Seq  uint64
	Time time.Time
	Kind Kind
	// Agent is the agent's name; empty for a module sent by the caller,
	// whose SHA-256 is in Module.
	Agent  string
	Module string
	// Peer is the other side: the caller of a served run (empty for the
	// node's own bridge), or the node a call went to.
	Peer string
	// By is the agent of this node that made a Called event's call
	// (agent-to-agent); empty for a call a user made through the bridge.
	By      string
	Outcome string
	// Duration is the whole request as the node saw it: execution and
	// settlement, or the remote call end to end.
	Duration time.Duration
	// Payment is the settled payment of a paid event, with the
	// transaction hash; nil when nothing was paid.
	Payment *api.Payment
}

// Log is a fixed-size ring of events, safe for concurrent use. A nil *Log
// records nothing, so callers need no checks.
type Log struct {
	mu   sync.Mutex
	buf  []Event
	next int // index of the slot the next event goes to
	seq  uint64
	now  func() time.Time
}

// Option configures a Log.
type Option func(*Log)

// WithClock stamps events with now instead of time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(l *Log) { l.now = now } }

// New returns a Log that keeps the last size events (DefaultSize when
// size <= 0).
func New(size int, opts ...Option) *Log {
	if size <= 0 {
		size = DefaultSize
	}
	l := &Log{buf: make([]Event, 0, size), now: time.Now}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Add records e, stamping its Seq and, when zero, its Time. The oldest
// event is dropped once the ring is full. The payment is copied, so the
// caller may reuse it.
func (l *Log) Add(e Event) {
	if l == nil {
		return
	}
	if e.Payment != nil {
		p := *e.Payment
		e.Payment = &p
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	e.Seq = l.seq
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	if len(l.buf) < cap(l.buf) {
		l.buf = append(l.buf, e)
	} else {
		l.buf[l.next] = e
	}
	l.next = (l.next + 1) % cap(l.buf)
}

// Recent returns up to n events, newest first (all kept events when
// n <= 0). The events are copies.
func (l *Log) Recent(n int) []Event {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n <= 0 || n > len(l.buf) {
		n = len(l.buf)
	}
	out := make([]Event, 0, n)
	for i := range n {
		// Until the ring is full, next == len(buf); after, the slots wrap.
		c := cap(l.buf)
		e := l.buf[((l.next-1-i)%c+c)%c]
		if e.Payment != nil {
			p := *e.Payment
			e.Payment = &p
		}
		out = append(out, e)
	}
	return out
}

// Len returns the number of events kept.
func (l *Log) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buf)
}
