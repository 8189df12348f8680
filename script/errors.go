package script

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error of Compile, Run, Call and Check is an
// *Error that wraps exactly one of them, so callers branch with errors.Is
// and show users Error's file:line message.
var (
	// ErrSyntax is returned when a script does not parse or resolve:
	// a syntax error, an undefined name, a load statement.
	ErrSyntax = errors.New("script does not compile")
	// ErrRuntime is returned when a script raises an error while running:
	// fail(), a bad index, a type error, a failed assertion.
	ErrRuntime = errors.New("script error")
	// ErrRecursion is returned when a function calls itself, directly or
	// not. Starlark forbids recursion; the sandbox keeps it so.
	ErrRecursion = errors.New("recursion not allowed")
	// ErrSteps is returned when a run exceeds Limits.MaxSteps.
	ErrSteps = errors.New("step limit exceeded")
	// ErrMemory is returned when a run would allocate past Limits.MaxAlloc,
	// build an integer over Limits.MaxIntBits, or nest values deeper than
	// Limits.MaxDepth.
	ErrMemory = errors.New("memory limit exceeded")
	// ErrDeadline is returned when the context ends or Limits.Timeout
	// passes before a run finishes.
	ErrDeadline = errors.New("deadline exceeded")
	// ErrNoFunction is returned when the entry point named by the caller
	// is not a function the script defines.
	ErrNoFunction = errors.New("no such function")
	// ErrConvert is returned when a value cannot cross between Go and
	// Starlark: a function as a result, a dict with non-string keys, a
	// result larger than Limits.MaxResult, an unsupported Go type.
	ErrConvert = errors.New("value cannot be converted")
	// ErrTooLarge is returned for a source over MaxSourceLen or JSON input
	// over MaxJSONLen.
	ErrTooLarge = errors.New("input too large")
)

// Error is an error of a script, with the place it happened.
type Error struct {
	// Kind is the sentinel the error wraps (ErrSyntax, ErrSteps, …).
	Kind error
	// Filename, Line and Col locate the error in the script; Line is 0
	// when the error has no place (a missing entry point).
	Filename  string
	Line, Col int32
	// Func is the script function that was running, if any.
	Func string
	// Msg is the message without the position.
	Msg string
	// Backtrace lists the script's call frames, outermost first, one
	// "file:line:col: in func" per line.
	Backtrace string
	cause     error
}

// Error returns "file:line:col: message", the form compilers and
// Python tracebacks use.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Filename != "" {
		b.WriteString(e.Filename)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
		}
		b.WriteString(": ")
	}
	if e.Func != "" && e.Func != "<toplevel>" {
		fmt.Fprintf(&b, "in %s: ", e.Func)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the kind and the underlying cause.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Kind, e.cause}
	}
	return []error{e.Kind}
}

// Position returns "file:line:col" (or just the file when unknown).
func (e *Error) Position() string {
	if e.Line == 0 {
		return e.Filename
	}
	return fmt.Sprintf("%s:%d:%d", e.Filename, e.Line, e.Col)
}

// limitError is what a guard returns from inside a running script. It
// wraps the kind so that classification survives the interpreter's
// EvalError wrapping.
type limitError struct {
	kind error
	msg  string
}

func (e *limitError) Error() string { return e.kind.Error() + ": " + e.msg }
func (e *limitError) Unwrap() error { return e.kind }

func limitf(kind error, format string, args ...any) error {
	return &limitError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
