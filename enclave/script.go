package enclave

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentnet/agentnode/script"
)

// ErrScript is returned (wrapping the *script.Error) when a script does not
// compile, fails, or runs out of steps, memory or time.
var ErrScript = errors.New("script failed")

// scriptFilename names every request's script in error positions; the
// client knows which script it sent.
const scriptFilename = "policy.star"

// runScript runs a script job: main(args) in the Starlark sandbox, its
// result text as the output, its step count as the fuel. The commitment
// binds the script's SHA-256 as the module.
func (e *Enclave) runScript(ctx context.Context, j *Job, t *Transcript, opts RunOptions) (*Receipt, error) {
	args := make([]any, len(j.payload.Args))
	for i, a := range j.payload.Args {
		args[i] = a
	}
	res, err := script.Run(ctx, script.Program{Filename: scriptFilename, Source: []byte(j.payload.Script)}, "main", []any{args}, e.cfg.ScriptLimits)
	if err == nil {
		var out string
		if out, err = res.Text(); err == nil {
			t.Output, t.Fuel = []byte(out), res.Steps
			return e.seal(ctx, j, t, []byte(res.Output), 0, opts.Attest)
		}
	}
	return nil, fmt.Errorf("run script of request %s: %w: %w", j.request, ErrScript, withheld(err))
}

// scriptKinds are the script sandbox's kinds of failure, whose own texts
// say nothing of the script.
var scriptKinds = []error{script.ErrSyntax, script.ErrRuntime, script.ErrRecursion, script.ErrSteps,
	script.ErrMemory, script.ErrDeadline, script.ErrNoFunction, script.ErrConvert, script.ErrTooLarge}

// withheld returns a script's error without its message. The message of
// a failing script quotes the sealed request at will (fail(args[0]), an
// undefined name, the values of a type error), and errors leave the
// enclave in clear: in the bridge's JSON answer and in the node's log.
// What remains is the kind of failure and its place, which is enough to
// find it with `agentnode policy eval`, where the script runs locally.
func withheld(err error) error {
	f := &scriptFailure{pos: scriptFilename}
	var se *script.Error
	if errors.As(err, &se) {
		f.pos = se.Position()
	}
	for _, k := range scriptKinds {
		if errors.Is(err, k) {
			f.kind = k
			return f
		}
	}
	f.kind = script.ErrRuntime
	return f
}

// scriptFailure is a script's error as it may leave the enclave.
type scriptFailure struct {
	kind error
	pos  string
}

func (f *scriptFailure) Error() string {
	return f.pos + ": " + f.kind.Error() + " (message withheld: it may quote the sealed script or its arguments)"
}

func (f *scriptFailure) Unwrap() error { return f.kind }
