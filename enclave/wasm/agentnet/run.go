package agentnet

import (
	"context"
	"sync"
)

// RunConfig is what the node knows about one run of a deployed agent.
type RunConfig struct {
	// Caller is the agent running: the origin of every payment its calls cause.
	Caller string
	// Depth is the run's call depth: 0 for a user's call, n+1 for a call made by an agent
	// at depth n (the callee's node reads it from the request).
	Depth int
	// Budget is the most the run's calls may pay in total, in atomic units: the agent's
	// manifest budget or the node's default. 0 allows only free calls.
	Budget uint64
}

// Run is the agent-to-agent state of one run: its config, what it spent, and the handle
// table of its results. The node makes one per run of a deployed agent ([NewRun]), puts
// it in the run's context ([WithRun]) and closes it when the run ended. A run without one
// gets ErrUnavailable from every call. It is safe for concurrent use.
type Run struct {
	cfg RunConfig

	mu      sync.Mutex
	spent   uint64
	calls   int
	next    int32
	handles map[int32]*handle
	held    int // bytes held by open handles
	lastErr string
	closed  bool
}

// handle is one result in a run's table: a search's JSON, or a call's result and its
// receipt.
type handle struct {
	output  []byte
	receipt []byte      // JSON, nil for a search
	call    *CallResult // nil for a search
}

// size is what the handle holds, for the run's byte cap.
func (h *handle) size() int { return len(h.output) + len(h.receipt) }

// NewRun returns the state of a run.
func NewRun(cfg RunConfig) *Run { return &Run{cfg: cfg, handles: map[int32]*handle{}} }

// Config returns the run's config.
func (r *Run) Config() RunConfig { return r.cfg }

// Spent returns what the run's calls paid so far.
func (r *Run) Spent() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spent
}

// Calls returns how many searches and calls the run made.
func (r *Run) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// LastError returns the message of the run's last failed agentnet call, "" if none.
func (r *Run) LastError() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// Close frees the run's handle table; later calls fail with ErrUnavailable. It is
// idempotent.
func (r *Run) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.handles = nil
	r.held = 0
}

// remaining is the run's budget left; r.mu held.
func (r *Run) remainingLocked() uint64 {
	if r.spent >= r.cfg.Budget {
		return 0
	}
	return r.cfg.Budget - r.spent
}

type runKey struct{}

// WithRun returns ctx carrying r: the context an agent's run gets, so that its host
// calls find their run.
func WithRun(ctx context.Context, r *Run) context.Context {
	return context.WithValue(ctx, runKey{}, r)
}

// RunFrom returns the run ctx carries, nil if none.
func RunFrom(ctx context.Context) *Run {
	r, _ := ctx.Value(runKey{}).(*Run)
	return r
}
