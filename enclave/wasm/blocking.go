package wasm

import (
	"context"
	"fmt"
)

// runSlotKey keys the run's *runSlot in the context its host functions receive.
type runSlotKey struct{}

// runSlot is a run's hold on one of Config.MaxConcurrent slots. It is used on the guest's
// goroutine only: by Run, and by host functions through Blocking.
type runSlot struct {
	e    *Executor
	held bool
}

func (s *runSlot) release() {
	if s.held {
		s.held = false
		s.e.releaseSlot()
	}
}

// Blocking runs wait, a host function's wait for something outside the guest (an
// agent-to-agent call over the network, say), with the run's executor slot handed back
// for the duration: a guest that waits uses no CPU, and a guest that waits for another
// guest of the same node (a nested call) would otherwise hold the slot that guest needs,
// so that a few concurrent nested calls starve every slot until their deadlines. The
// guest's wall-clock deadline keeps counting while it waits.
//
// ctx is the context the host function received. Blocking takes a slot again before it
// returns, waiting as long as ctx allows; when ctx has ended it returns ctx's error and
// the run goes on without a slot, so the host function must return to the guest at once
// (the metered guest stops at its next fuel check, within one yield interval, a fraction
// of a millisecond of guest work). Outside a run of this package
// (a ctx that did not come from a host call) Blocking just calls wait.
func Blocking(ctx context.Context, wait func()) error {
	s, _ := ctx.Value(runSlotKey{}).(*runSlot)
	if s == nil || !s.held {
		wait()
		return nil
	}
	s.release()
	wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("resume guest: %w", err)
	}
	if err := s.e.acquireSlot(ctx); err != nil {
		return fmt.Errorf("resume guest: %w", err)
	}
	s.held = true
	return nil
}
