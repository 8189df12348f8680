package wasm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
)

// argv0 is the program name every guest sees as argv[0].
const argv0 = "agent"

// Input is what a run feeds a guest.
type Input struct {
	// Args are the arguments after argv[0] (which is always "agent"). They may be
	// empty strings but may not contain NUL bytes.
	Args []string
	// Stdin is what the guest reads from fd 0; it sees EOF after it.
	Stdin []byte
	// Seed keys the ChaCha8 stream behind random_get, so a run is reproducible: the same
	// module, Args, Stdin and Seed give the same output. Use a fresh random seed when
	// the guest needs unpredictable bytes.
	Seed [32]byte
	// Fuel is the run's fuel budget (docs/metering.md); 0 means Config.Fuel. A guest
	// that needs more fails with ErrOutOfFuel: a paid run gets exactly the fuel it was
	// paid for. At most MaxFuel.
	Fuel uint64
}

// Result is what a run produced.
type Result struct {
	// Stdout is what the guest wrote to fd 1, at most Config.MaxOutputBytes; nil if
	// nothing.
	Stdout []byte
	// Stderr is what the guest wrote to fd 2, cut at Config.MaxStderrBytes; nil if
	// nothing.
	Stderr []byte
	// ExitCode is the guest's exit code: 0 when _start returned, else the value it passed
	// to proc_exit. A non-zero exit code is a result, not an error.
	ExitCode uint32
	// Fuel is the work the run did, in fuel units: a start section's and _start's. It
	// depends only on the module and the input (Args, Stdin, Seed), never on the machine
	// or on timing. A run that completes used at most its budget.
	Fuel uint64
	// Duration is the wall-clock time of instantiation and execution.
	Duration time.Duration
}

// Run instantiates m and runs its _start with in, under the executor's limits. It waits
// for a free slot (Config.MaxConcurrent) while ctx allows; the run's deadline is
// Config.Timeout or ctx's, whichever comes first.
//
// A guest that exits with a non-zero code is a successful run. When the guest fails
// (ErrOutOfFuel, ErrTimeout, ErrOutputTooLarge, a [*TrapError], ctx cancelled,
// ErrClosed) Run returns the partial Result (stdout and stderr written so far, Fuel,
// Duration) together with the error. Errors before the guest starts (ErrInvalidInput,
// ErrForeignModule, ErrModuleEvicted, ErrClosed, ctx done while waiting) come with a nil
// Result.
func (e *Executor) Run(ctx context.Context, m *Module, in Input) (*Result, error) {
	switch {
	case m == nil:
		return nil, fmt.Errorf("run module: %w: nil module", ErrInvalidInput)
	case m.exec != e:
		return nil, fmt.Errorf("run module: %w", ErrForeignModule)
	}
	for i, a := range in.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("run module: %w: argument %d contains a NUL byte", ErrInvalidInput, i+1)
		}
	}
	if in.Fuel > MaxFuel {
		return nil, fmt.Errorf("run module: %w: fuel %d is over MaxFuel %d", ErrInvalidInput, in.Fuel, uint64(MaxFuel))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run module: %w", err)
	}
	if err := e.enter(); err != nil {
		return nil, fmt.Errorf("run module: %w", err)
	}
	defer e.leave()

	if err := e.acquireSlot(ctx); err != nil {
		return nil, fmt.Errorf("run module: %w", err)
	}
	s := &runSlot{e: e, held: true}
	defer s.release()

	if !m.acquire() {
		return nil, fmt.Errorf("run module: %w", ErrModuleEvicted)
	}
	defer m.release()
	return e.run(ctx, m, in, s)
}

// acquireSlot takes one of Config.MaxConcurrent slots, waiting while ctx allows.
func (e *Executor) acquireSlot(ctx context.Context) error {
	select {
	case e.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case e.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for a free slot: %w", ctx.Err())
	case <-e.life.Done():
		return ErrClosed
	}
}

func (e *Executor) releaseSlot() { <-e.sem }

// run executes one instance of m; the caller holds slot and a reference to m.
func (e *Executor) run(ctx context.Context, m *Module, in Input, slot *runSlot) (*Result, error) {
	start := time.Now() // before the deadline is set, so a timed-out run reports >= Timeout
	runCtx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	stopOnClose := context.AfterFunc(e.life, cancel)
	defer stopOnClose()

	st := e.states.Get().(*runState)
	defer e.putRunState(st)
	st.reset(in)
	mc := st.config
	if len(in.Args) > 0 {
		argv := make([]string, 0, 1+len(in.Args))
		argv = append(argv, argv0)
		mc = mc.WithArgs(append(argv, in.Args...)...)
	}
	budget := cmp.Or(in.Fuel, e.cfg.Fuel)

	guestCtx := context.WithValue(experimental.WithMemoryAllocator(runCtx, &e.memory), runSlotKey{}, slot)
	used, err := e.execute(guestCtx, m.compiled, mc, budget)
	res := &Result{Stdout: st.stdout.take(), Stderr: st.stderr.take(), Fuel: used, Duration: time.Since(start)}

	err = e.outcome(ctx, runCtx, res, st, budget, err)
	if e.log.Enabled(ctx, slog.LevelDebug) {
		e.log.Debug("ran wasm module", "module", shortHash(m.hash), "exit_code", res.ExitCode, "fuel", res.Fuel,
			"took", res.Duration, "stdout_bytes", len(res.Stdout), "err", err)
	}
	return res, err
}

// execute instantiates the metered module, gives the instance its budget and runs
// _start; it returns the fuel used and the call's error. A start section, which runs
// during instantiation on the meter's start budget, counts toward the run's fuel and
// budget. A panic escaping wazero becomes ErrInternal, logged with its stack, so no
// guest can take the process down.
func (e *Executor) execute(ctx context.Context, compiled wazero.CompiledModule, mc wazero.ModuleConfig, budget uint64) (used uint64, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("wasm run panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrInternal, r)
		}
	}()
	mod, err := e.runtime.InstantiateModule(ctx, compiled, mc)
	if err != nil {
		if mod != nil {
			_ = mod.Close(ctx)
		}
		// Only a start section runs here; out of fuel, it spent the start budget.
		if errors.Is(err, meter.ErrOutOfFuel) {
			return startFuel, err
		}
		return 0, err
	}
	defer func() { _ = mod.Close(ctx) }() // wazero uses ctx only for close notifiers
	g, err := meter.NewGauge(mod)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	// The gauge counts from what the instance holds now: the start budget less what a
	// start section spent (Used is that overrun when the section went below zero).
	startUsed := startFuel - g.Remaining() + g.Used()
	if startUsed > budget {
		return startUsed, fmt.Errorf("start section: %w", meter.ErrOutOfFuel)
	}
	if err := g.Set(budget - startUsed); err != nil {
		return startUsed, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	_, err = mod.ExportedFunction(startFunction).Call(ctx)
	return startUsed + g.Used(), err
}

// outcome classifies how a run ended: it sets res.ExitCode and returns the run's error.
// Termination causes are read from the executor's and the contexts' state and from the
// meter, never from exit codes or messages a guest controls, so a guest cannot fake a
// timeout or an exhausted budget.
func (e *Executor) outcome(ctx, runCtx context.Context, res *Result, st *runState, budget uint64, err error) error {
	if err != nil && e.life.Err() != nil {
		return fmt.Errorf("run module: %w", ErrClosed)
	}
	if st.stdout.overflow {
		return fmt.Errorf("run module: %w: stdout passed the limit of %d bytes", ErrOutputTooLarge, e.cfg.MaxOutputBytes)
	}
	if err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			res.ExitCode, err = exit.ExitCode(), nil // the guest called proc_exit
		}
	}
	switch {
	case err == nil && res.Fuel <= budget:
		return nil
	case err == nil || errors.Is(err, meter.ErrOutOfFuel):
		// A guest may finish a stretch of straight-line code past its budget before the
		// next check (package meter); the budget is a hard cap all the same.
		return fmt.Errorf("run module: %w: the budget of %d units is spent", ErrOutOfFuel, budget)
	case isContextErr(err) && errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("run module: %w", context.Cause(ctx))
	case isContextErr(err) && expired(runCtx):
		return fmt.Errorf("run module: %w after %v: %w", ErrTimeout, res.Duration.Round(time.Millisecond), context.DeadlineExceeded)
	case errors.Is(err, ErrInternal):
		return fmt.Errorf("run module: %w", err)
	}
	return fmt.Errorf("run module: %w", newTrapError(err))
}

// expired reports whether ctx is done or past its deadline. The meter's yield reads the
// clock, so it may stop a guest a moment before the context's timer fires.
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// newTrapError extracts the one-line reason from a wazero failure: the innermost wrapped
// error (wazero wraps "unreachable", "stack overflow", ... in a stack trace), first line
// only, without wazero's "wasm error: " prefix.
func newTrapError(err error) *TrapError {
	inner := err
	for {
		next := errors.Unwrap(inner)
		if next == nil {
			break
		}
		inner = next
	}
	reason := oneLine(inner.Error())
	reason = strings.TrimPrefix(reason, "wasm error: ")
	if reason == "" {
		reason = oneLine(err.Error())
	}
	return &TrapError{Reason: reason, Detail: err.Error()}
}
