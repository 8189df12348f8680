package wasm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

// TestBlockingNestedRun runs, with a single slot, a guest whose host call waits for
// another guest of the same executor (what a nested agent-to-agent call to the same node
// does). Inside Blocking the waiting guest has handed its slot back, so the inner guest
// runs; without it the inner run could only wait for the outer one's deadline.
func TestBlockingNestedRun(t *testing.T) {
	var e *Executor
	var hello *Module
	host := &testHost{name: "test_host", answer: func(ctx context.Context) uint32 {
		var res *Result
		var runErr error
		err := Blocking(ctx, func() {
			res, runErr = e.Run(ctx, hello, Input{})
		})
		if err != nil || runErr != nil || string(res.Stdout) != "hello\n" {
			t.Errorf("nested run: blocking %v, run %v, res %+v", err, runErr, res)
			return 1
		}
		return 7
	}}
	e = newExecutor(t, Config{MaxConcurrent: 1, Timeout: 10 * time.Second, HostModules: []HostModule{host}})
	hello = mustCompile(t, e, wasmtest.Hello)
	outer := mustCompile(t, e, wasmtest.HostCall)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := e.Run(ctx, outer, Input{})
	if err != nil || res.ExitCode != 7 {
		t.Fatalf("outer run: %v, %+v", err, res)
	}
	// The slot came back: a run after both still gets one at once.
	short, stop := context.WithTimeout(context.Background(), time.Second)
	defer stop()
	if _, err := e.Run(short, hello, Input{}); err != nil {
		t.Fatalf("run after nested runs: %v", err)
	}
}

// TestBlockingDeadline: a wait that outlives the run's deadline leaves Blocking with the
// context's error, and the slot accounting stays right. (The guest here exits through
// proc_exit right after the host call, before the executor stops it, so the run itself
// may end either way.)
func TestBlockingDeadline(t *testing.T) {
	var blockErr error
	host := &testHost{name: "test_host", answer: func(ctx context.Context) uint32 {
		blockErr = Blocking(ctx, func() { <-ctx.Done() })
		return 0
	}}
	e := newExecutor(t, Config{MaxConcurrent: 1, Timeout: 100 * time.Millisecond, HostModules: []HostModule{host}})
	res, err := e.Run(context.Background(), mustCompile(t, e, wasmtest.HostCall), Input{})
	if err != nil && !errors.Is(err, ErrTimeout) || err == nil && res.ExitCode != 0 {
		t.Fatalf("run: %v, %+v", err, res)
	}
	if !errors.Is(blockErr, context.DeadlineExceeded) {
		t.Fatalf("Blocking: %v, want the deadline", blockErr)
	}
	checkHello(t, e)
	checkHello(t, e) // with one slot, a leaked or double-freed slot shows here
}

// TestBlockingOutsideRun: with a context that no run made, Blocking only waits.
func TestBlockingOutsideRun(t *testing.T) {
	called := false
	if err := Blocking(context.Background(), func() { called = true }); err != nil || !called {
		t.Fatalf("Blocking outside a run: %v, called %v", err, called)
	}
}
