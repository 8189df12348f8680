package wasm

import (
	"errors"
)

var (
	// ErrInvalidConfig is returned by [New] when a [Config] field is out of range (a
	// negative limit, more memory pages than WebAssembly allows, an unusable cache
	// directory, a host module without a usable name).
	ErrInvalidConfig = errors.New("invalid executor config")

	// ErrModuleTooLarge is returned by [Executor.Compile] when the module is larger than
	// Config.MaxModuleBytes. It is checked before anything else, so an oversized module
	// costs no hashing or decoding.
	ErrModuleTooLarge = errors.New("module too large")

	// ErrInvalidModule is returned by [Executor.Compile] when the bytes are not a valid
	// WebAssembly module (empty, truncated, garbage, a feature beyond WebAssembly 2.0, a
	// declared memory over the limit), when the module imports anything this node does
	// not provide, or when it is not a WASI command (no _start export).
	ErrInvalidModule = errors.New("invalid module")

	// ErrModuleEvicted is returned by [Executor.Run] when the [Module] was dropped from the
	// compiled-module cache and released before this run started; compile it again.
	ErrModuleEvicted = errors.New("module evicted from the compiled-module cache")

	// ErrForeignModule is returned by [Executor.Run] when the [Module] was compiled by
	// another Executor.
	ErrForeignModule = errors.New("module compiled by another executor")

	// ErrInvalidInput is returned by [Executor.Run] when the [Input] cannot be passed to a
	// WASI guest: an argument contains a NUL byte.
	ErrInvalidInput = errors.New("invalid input")

	// ErrTimeout is returned by [Executor.Run] when the guest was stopped because it ran
	// past Config.Timeout or the deadline of the caller's context. Such errors also match
	// context.DeadlineExceeded.
	ErrTimeout = errors.New("execution timed out")

	// ErrOutOfFuel is returned by [Executor.Run] when the guest spent its fuel budget
	// (Input.Fuel, or Config.Fuel) before it finished. Fuel is deterministic, so the same
	// module and input run out at the same point on every run and every machine.
	ErrOutOfFuel = errors.New("out of fuel")

	// ErrOutputTooLarge is returned by [Executor.Run] when the guest wrote more than
	// Config.MaxOutputBytes to stdout; the guest is stopped and the Result holds the first
	// MaxOutputBytes bytes.
	ErrOutputTooLarge = errors.New("output too large")

	// ErrTrap is returned by [Executor.Run] (inside a [*TrapError]) when the guest
	// trapped: unreachable, stack overflow, out of bounds memory access, integer divide by
	// zero, or a host function that failed.
	ErrTrap = errors.New("wasm trap")

	// ErrClosed is returned by [Executor.Compile] and [Executor.Run] when the Executor is
	// closed or closes while the call waits or runs.
	ErrClosed = errors.New("executor closed")

	// ErrInternal is returned by [Executor.Run] when the runtime itself failed (a panic
	// inside wazero or a host module). It is a bug in agentnode or wazero, not in the
	// guest; it is logged at error level.
	ErrInternal = errors.New("internal executor error")
)

// TrapError reports that a guest trapped. It matches [ErrTrap] with errors.Is.
type TrapError struct {
	// Reason is the one-line cause as wazero reports it, for example "unreachable",
	// "stack overflow" or "out of bounds memory access", suitable for users.
	Reason string
	// Detail is wazero's full message including the wasm stack trace, for logs and
	// debugging; it names guest functions but holds no guest data.
	Detail string
}

// Error returns "wasm trap: " and the one-line reason.
func (e *TrapError) Error() string { return ErrTrap.Error() + ": " + e.Reason }

// Unwrap returns [ErrTrap] so that errors.Is(err, ErrTrap) holds.
func (e *TrapError) Unwrap() error { return ErrTrap }
