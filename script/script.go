// Package script runs Starlark programs (a deterministic, hermetic dialect
// of Python, go.starlark.net) as a sandbox for code the node does not
// trust: payment policies, and the scripts users send to the
// /x402_policy/unsafe/python route.
//
// A script sees only what the host gives it. There is no load(), no file,
// network, environment or clock; the only predeclared names are the safe
// built-ins and the values the host passes (a policy gets "now" as an
// argument). Every run is bounded in:
//
//   - steps: Limits.MaxSteps counts interpreter steps plus the work of
//     built-ins in proportion to their input (sorting a list of n elements
//     costs about n log n), so no built-in can loop unbounded inside a step;
//   - memory: every operation that can allocate more than a few words in
//     one step (repetition, concatenation, formatting, str(), join,
//     replace, slicing, list(), sorted(), big integers, …) is charged
//     against Limits.MaxAlloc before it runs, so "x" * 1000000000 fails
//     before it allocates; the rest of the interpreter allocates a
//     bounded amount per step;
//   - time: Limits.Timeout and the context cancel the run;
//   - recursion: forbidden, as Starlark does by default;
//   - nesting, integer size, hash collisions and output size.
//
// The guard works by compiling each script to instrumented code: the
// operators and method calls that can be expensive become calls to
// guard functions that charge the run's budget, then do the operation.
// The script's source and its error positions are unchanged. See
// docs/policy-scripts.md for the language, the limits and measurements.
//
// [Compile] compiles a script and runs its top level once; the returned
// [Module] is immutable and its functions can be called concurrently with
// [Module.Call]. [Run] does both for one-off scripts; [Check] runs a
// script's test_* functions.
package script

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// MaxSourceLen caps a script's source.
const MaxSourceLen = 1 << 20

// Program is a script's source and the file name its errors report.
type Program struct {
	// Filename names the script in errors ("policy.star"); it is not
	// opened. Empty means "script.star".
	Filename string
	// Source is the Starlark text.
	Source []byte
}

// Limits bound one run of a script. A zero field takes its default.
type Limits struct {
	// MaxSteps caps interpreter steps plus built-in work. Default 1e6
	// (roughly 20-50 ms of CPU).
	MaxSteps uint64
	// MaxAlloc caps the bytes a run may allocate through operations
	// whose size depends on their input. Default 32 MiB.
	MaxAlloc int64
	// Timeout caps wall-clock time, on top of the context. Default 2 s.
	Timeout time.Duration
	// MaxOutput caps print() output kept in Result.Output; the rest is
	// dropped and Result.Truncated set. Default 64 KiB.
	MaxOutput int
	// MaxResult caps the size of a returned value, as JSON. Default 1 MiB.
	MaxResult int
	// MaxDepth caps how deeply values may nest when the host or an
	// expensive operation walks them. Default 1000.
	MaxDepth int
	// MaxIntBits caps the size of integers. Default 4096 bits (1233
	// decimal digits); token amounts need 256.
	MaxIntBits int
}

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{
		MaxSteps: 1_000_000, MaxAlloc: 32 << 20, Timeout: 2 * time.Second,
		MaxOutput: 64 << 10, MaxResult: 1 << 20, MaxDepth: 1000, MaxIntBits: 4096,
	}
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxSteps == 0 {
		l.MaxSteps = d.MaxSteps
	}
	if l.MaxAlloc <= 0 {
		l.MaxAlloc = d.MaxAlloc
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = d.MaxOutput
	}
	if l.MaxResult <= 0 {
		l.MaxResult = d.MaxResult
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxIntBits <= 0 {
		l.MaxIntBits = d.MaxIntBits
	}
	return l
}

// Result is what a run produced.
type Result struct {
	// Value is the returned value as a JSON-like Go value: nil, bool,
	// int64, *big.Int (beyond int64), float64, string, []byte, []any,
	// map[string]any.
	Value any
	// Output is what the script printed, one line per print call.
	Output string
	// Truncated reports that output past Limits.MaxOutput was dropped.
	Truncated bool
	// Steps is the number of steps the run used.
	Steps uint64
	// Alloc is the number of bytes charged to the memory budget.
	Alloc int64
}

// Text renders Value for a response body: a string as itself, anything
// else as JSON.
func (r Result) Text() (string, error) {
	if s, ok := r.Value.(string); ok {
		return s, nil
	}
	b, err := MarshalJSON(r.Value)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Option configures Compile.
type Option func(*config)

type config struct {
	limits      Limits
	predeclared map[string]any
}

// WithLimits bounds the run of the script's top level, and is the
// default for Module.Call when the caller passes a zero Limits.
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

// WithPredeclared makes host values visible to the script under the given
// names, converted as by ToValue and frozen. Names must be identifiers
// and may not shadow a built-in.
func WithPredeclared(vals map[string]any) Option {
	return func(c *config) { c.predeclared = vals }
}

// Module is a compiled script whose top level has run. It is immutable
// and safe for concurrent use.
type Module struct {
	filename    string
	globals     starlark.StringDict
	predeclared starlark.StringDict
	limits      Limits
}

// fileOptions is the dialect: Python-like conveniences (while, top-level
// if/for, reassigning globals, set()) on, recursion off.
var fileOptions = syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}

// Compile parses p, instruments it, and runs its top level under the
// limits of WithLimits. Errors are *Error with a file:line position.
func Compile(ctx context.Context, p Program, opts ...Option) (*Module, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	c.limits = c.limits.withDefaults()
	name := p.Filename
	if name == "" {
		name = "script.star"
	}
	if strings.ContainsAny(name, "\n\r\x00") || len(name) > 256 {
		return nil, &Error{Kind: ErrSyntax, Filename: "script.star", Msg: "invalid file name"}
	}
	if len(p.Source) > MaxSourceLen {
		return nil, &Error{Kind: ErrTooLarge, Filename: name,
			Msg: fmt.Sprintf("source is %d bytes, over %d", len(p.Source), MaxSourceLen)}
	}
	f, err := fileOptions.Parse(name, p.Source, 0)
	if err != nil {
		return nil, compileError(name, err)
	}
	if err := instrument(f); err != nil {
		return nil, compileError(name, err)
	}
	predeclared, err := newPredeclared(c.predeclared)
	if err != nil {
		return nil, &Error{Kind: ErrConvert, Filename: name, Msg: err.Error(), cause: err}
	}
	prog, err := starlark.FileProgram(f, predeclared.Has)
	if err != nil {
		return nil, compileError(name, err)
	}
	m := &Module{filename: name, predeclared: predeclared, limits: c.limits}
	th, g, stop := m.newThread(ctx, c.limits)
	defer stop()
	globals, err := prog.Init(th, predeclared)
	if err != nil {
		return nil, m.runError(th, g, err)
	}
	// Freezing walks every global recursively, with no memo for tuples:
	// check the walk is affordable before doing it.
	for _, k := range slices.Sorted(maps.Keys(globals)) {
		w := walker{maxNodes: int64(c.limits.MaxSteps), maxDepth: c.limits.MaxDepth}
		if err := w.walk(globals[k], 0); err != nil {
			return nil, &Error{Kind: kindOf(err), Filename: name, Msg: fmt.Sprintf("global %s: %v", k, err), cause: err}
		}
	}
	globals.Freeze()
	m.globals = globals
	return m, nil
}

// Globals lists the names the script defines at top level, sorted.
func (m *Module) Globals() []string {
	return slices.Sorted(maps.Keys(m.globals))
}

// Function returns the script function name and its number of
// parameters, and whether the script defines it.
func (m *Module) Function(name string) (params int, ok bool) {
	fn, ok := m.globals[name].(*starlark.Function)
	if !ok {
		return 0, false
	}
	return fn.NumParams(), true
}

// Call calls the script function fn with args converted by ToValue, under
// lim (zero fields default to the module's limits). Concurrent calls are
// safe: each runs on its own thread and sees the frozen globals.
func (m *Module) Call(ctx context.Context, fn string, args []any, lim Limits) (Result, error) {
	lim = m.mergeLimits(lim)
	f, ok := m.globals[fn].(*starlark.Function)
	if !ok {
		return Result{}, &Error{Kind: ErrNoFunction, Filename: m.filename,
			Msg: fmt.Sprintf("the script defines no function %q", fn)}
	}
	th, g, stop := m.newThread(ctx, lim)
	defer stop()
	tuple := make(starlark.Tuple, len(args))
	for i, a := range args {
		v, err := toValue(a, g, 0)
		if err != nil {
			return Result{}, &Error{Kind: kindOf(err), Filename: m.filename, Func: fn,
				Msg: fmt.Sprintf("argument %d: %v", i+1, err), cause: err}
		}
		tuple[i] = v
	}
	out, err := starlark.Call(th, f, tuple, nil)
	res := Result{Output: string(g.out), Truncated: g.truncated, Steps: th.ExecutionSteps(), Alloc: g.alloc}
	if err != nil {
		return res, m.runError(th, g, err)
	}
	res.Value, err = fromValue(out, lim)
	if err != nil {
		return res, &Error{Kind: kindOf(err), Filename: m.filename, Func: fn,
			Msg: fmt.Sprintf("result: %v", err), cause: err}
	}
	return res, nil
}

// Run compiles p and calls its function entry with args: the one-off form
// for the /x402_policy/unsafe/python route, which runs main(args).
func Run(ctx context.Context, p Program, entry string, args []any, lim Limits) (Result, error) {
	m, err := Compile(ctx, p, WithLimits(lim))
	if err != nil {
		return Result{}, err
	}
	return m.Call(ctx, entry, args, lim)
}

func (m *Module) mergeLimits(l Limits) Limits { return l.Or(m.limits) }

// Or returns l with each zero (or, for sizes, non-positive) field taken
// from defaults: how a caller's partial Limits combine with a module's.
func (l Limits) Or(defaults Limits) Limits {
	d := defaults
	if l.MaxSteps != 0 {
		d.MaxSteps = l.MaxSteps
	}
	if l.MaxAlloc > 0 {
		d.MaxAlloc = l.MaxAlloc
	}
	if l.Timeout > 0 {
		d.Timeout = l.Timeout
	}
	if l.MaxOutput > 0 {
		d.MaxOutput = l.MaxOutput
	}
	if l.MaxResult > 0 {
		d.MaxResult = l.MaxResult
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxIntBits > 0 {
		d.MaxIntBits = l.MaxIntBits
	}
	return d
}

// newThread returns a thread bound to ctx and lim, its guard, and a stop
// function that releases the deadline watcher.
func (m *Module) newThread(ctx context.Context, lim Limits) (*starlark.Thread, *guard, func()) {
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	g := &guard{ctx: ctx, lim: lim}
	th := &starlark.Thread{Name: m.filename}
	th.Print = g.print
	th.SetMaxExecutionSteps(lim.MaxSteps)
	th.SetLocal(guardKey, g)
	stopWatch := context.AfterFunc(ctx, func() { th.Cancel("deadline exceeded") })
	if ctx.Err() != nil {
		th.Cancel("deadline exceeded")
	}
	return th, g, func() { stopWatch(); cancel() }
}

// runError turns an interpreter error into an *Error with the innermost
// script position and the right kind.
func (m *Module) runError(th *starlark.Thread, g *guard, err error) *Error {
	e := &Error{Filename: m.filename, Msg: err.Error(), cause: err}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		e.Msg = ee.Msg
		var bt strings.Builder
		for _, fr := range ee.CallStack {
			if fr.Pos.Filename() == "<builtin>" || strings.HasPrefix(fr.Name, "$") {
				continue
			}
			fmt.Fprintf(&bt, "%s: in %s\n", fr.Pos, fr.Name)
			e.Line, e.Col, e.Func = fr.Pos.Line, fr.Pos.Col, fr.Name
			if f := fr.Pos.Filename(); f != "" {
				e.Filename = f
			}
		}
		e.Backtrace = bt.String()
	}
	e.Kind = kindOf(err)
	switch {
	case e.Kind != ErrRuntime:
	case g.ctx.Err() != nil:
		e.Kind, e.Msg = ErrDeadline, fmt.Sprintf("%v: %v (timeout %v)", ErrDeadline, context.Cause(g.ctx), g.lim.Timeout)
	case th.ExecutionSteps() >= g.lim.MaxSteps:
		e.Kind, e.Msg = ErrSteps, fmt.Sprintf("%v: more than %d steps", ErrSteps, g.lim.MaxSteps)
	case strings.Contains(e.Msg, "called recursively"):
		e.Kind, e.Msg = ErrRecursion, fmt.Sprintf("%v: %s", ErrRecursion, e.Msg)
	}
	return e
}

// kindOf returns the sentinel err wraps, or ErrRuntime.
func kindOf(err error) error {
	for _, k := range []error{ErrSteps, ErrMemory, ErrDeadline, ErrConvert, ErrTooLarge, ErrNoFunction, ErrSyntax} {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrRuntime
}

// compileError converts parser and resolver errors.
func compileError(name string, err error) *Error {
	e := &Error{Kind: ErrSyntax, Filename: name, Msg: err.Error(), cause: err}
	var se syntax.Error
	if errors.As(err, &se) {
		e.Line, e.Col, e.Msg = se.Pos.Line, se.Pos.Col, se.Msg
		return e
	}
	var rl resolve.ErrorList
	if errors.As(err, &rl) && len(rl) > 0 {
		e.Line, e.Col, e.Msg = rl[0].Pos.Line, rl[0].Pos.Col, rl[0].Msg
		for _, more := range rl[1:] {
			e.Backtrace += fmt.Sprintf("%s: %s\n", more.Pos, more.Msg)
		}
		return e
	}
	var pe posError
	if errors.As(err, &pe) {
		e.Line, e.Col, e.Msg = pe.pos.Line, pe.pos.Col, pe.msg
	}
	return e
}
