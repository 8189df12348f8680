package script

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Tests convention: a script may define top-level functions named test_*
// taking no parameters. Check runs each in its own run, in name order; a
// test passes when it returns without error. The predeclared assertions
// assert_eq(got, want, msg=""), assert_true(cond, msg="") and
// assert_fails(fn, substring) fail the test with a message. Scripts keep
// their tests beside their code; production calls never run them.

// TestResult is the outcome of one test_* function.
type TestResult struct {
	Name     string
	Err      *Error // nil when the test passed
	Steps    uint64
	Duration time.Duration
	Output   string
}

// Passed reports whether the test returned without error.
func (t TestResult) Passed() bool { return t.Err == nil }

// Report is what Check found.
type Report struct {
	Filename string
	// Functions lists the script's top-level functions, sorted.
	Functions []string
	// Tests lists the test_* results in name order.
	Tests []TestResult
}

// Passed reports whether every test passed.
func (r Report) Passed() bool {
	for _, t := range r.Tests {
		if !t.Passed() {
			return false
		}
	}
	return true
}

// Check compiles p and runs its test_* functions, each under lim. The
// error is the compile error, if any; test failures are in the report.
func Check(ctx context.Context, p Program, lim Limits) (Report, error) {
	m, err := Compile(ctx, p, WithLimits(lim))
	if err != nil {
		return Report{Filename: p.Filename}, err
	}
	return m.Check(ctx, lim), nil
}

// Check runs the module's test_* functions.
func (m *Module) Check(ctx context.Context, lim Limits) Report {
	r := Report{Filename: m.filename}
	for _, name := range m.Globals() {
		fn, ok := m.globals[name].(*starlark.Function)
		if !ok {
			continue
		}
		r.Functions = append(r.Functions, name)
		if !strings.HasPrefix(name, "test_") {
			continue
		}
		t := TestResult{Name: name}
		if fn.NumParams() > 0 {
			pos := fn.Position()
			t.Err = &Error{Kind: ErrRuntime, Filename: m.filename, Line: pos.Line, Col: pos.Col, Func: name,
				Msg: "a test function takes no parameters"}
			r.Tests = append(r.Tests, t)
			continue
		}
		start := time.Now()
		res, err := m.Call(ctx, name, nil, lim)
		t.Duration, t.Steps, t.Output = time.Since(start), res.Steps, res.Output
		var se *Error
		if errors.As(err, &se) {
			t.Err = se
		} else if err != nil {
			t.Err = &Error{Kind: ErrRuntime, Filename: m.filename, Func: name, Msg: err.Error(), cause: err}
		}
		r.Tests = append(r.Tests, t)
	}
	return r
}

// assertions are the predeclared test helpers.
func assertions() starlark.StringDict {
	return starlark.StringDict{
		"assert_eq":    starlark.NewBuiltin("assert_eq", assertEq),
		"assert_true":  starlark.NewBuiltin("assert_true", assertTrue),
		"assert_fails": starlark.NewBuiltin("assert_fails", assertFails),
	}
}

// short renders v for an assertion message, within budget.
func short(g *guard, th *starlark.Thread, v starlark.Value) string {
	if n, err := g.reprBytes(th, v, false); err != nil || n > 1024 {
		return "<" + v.Type() + ">"
	}
	return v.String()
}

func assertEq(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var got, want starlark.Value
	msg := ""
	if err := starlark.UnpackArgs("assert_eq", args, kwargs, "got", &got, "want", &want, "msg?", &msg); err != nil {
		return nil, err
	}
	g, err := guardOf(th)
	if err != nil {
		return nil, err
	}
	if err := g.binary(th, syntax.EQL, got, want); err != nil {
		return nil, err
	}
	eq, err := starlark.Equal(got, want)
	if err != nil {
		return nil, err
	}
	if !eq {
		return nil, fmt.Errorf("assert_eq: got %s, want %s%s", short(g, th, got), short(g, th, want), suffix(msg))
	}
	return starlark.None, nil
}

func assertTrue(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cond starlark.Value
	msg := ""
	if err := starlark.UnpackArgs("assert_true", args, kwargs, "cond", &cond, "msg?", &msg); err != nil {
		return nil, err
	}
	if !cond.Truth() {
		return nil, fmt.Errorf("assert_true: condition is false%s", suffix(msg))
	}
	return starlark.None, nil
}

// assertFails calls fn() and requires it to fail with an error whose
// message contains want. Limit errors are never caught: a test cannot
// swallow its own step or memory overrun.
func assertFails(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var fn starlark.Callable
	var want string
	if err := starlark.UnpackArgs("assert_fails", args, kwargs, "fn", &fn, "want", &want); err != nil {
		return nil, err
	}
	_, err := starlark.Call(th, fn, nil, nil)
	if err == nil {
		return nil, fmt.Errorf("assert_fails: %s returned without error", fn.Name())
	}
	if g, gerr := guardOf(th); kindOf(err) != ErrRuntime || gerr != nil ||
		th.ExecutionSteps() >= g.lim.MaxSteps || g.ctx.Err() != nil {
		return nil, err
	}
	msg := err.Error()
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		msg = ee.Msg
	}
	if !strings.Contains(msg, want) {
		return nil, fmt.Errorf("assert_fails: error %q does not contain %q", msg, want)
	}
	return starlark.None, nil
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}
