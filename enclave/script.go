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
	return nil, fmt.Errorf("run script of request %s: %w: %w", j.request, ErrScript, err)
}
