package meter_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

// TestWasmtestModules meters the executor's test modules: the well-behaved commands
// must print and exit exactly as before, the hostile ones must be stopped the same way,
// and the malformed ones refused.
func TestWasmtestModules(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, compiler, false)
	for _, tc := range []struct {
		name  string
		wasm  []byte
		stdin string
		args  []string
	}{
		{"hello", wasmtest.Hello, "", nil},
		{"echo", wasmtest.EchoArgs, "", []string{"a", "b c", "é"}},
		{"cat", wasmtest.Cat, "line one\nline two\n", nil},
		{"exit", wasmtest.Exit, "", []string{"3"}},
		{"exit non-numeric", wasmtest.Exit, "", []string{"x"}},
		{"random", wasmtest.Random, "", nil},
		{"dump memory", wasmtest.DumpMemory, "", nil},
		{"open file", wasmtest.OpenFile, "", nil},
		{"deep recursion", wasmtest.DeepRecursion, "", nil}, // stack overflow either way
	} {
		out := mustInstrument(t, tc.wasm)
		want := runCommand(ctx, t, r, tc.wasm, false, 0, []byte(tc.stdin), tc.args...)
		got := runCommand(ctx, t, r, out, true, 1e9, []byte(tc.stdin), tc.args...)
		got.Fuel = 0
		if want != got {
			t.Errorf("%s:\noriginal %+v\nmetered  %+v", tc.name, want, got)
		}
	}

	// Hostile modules: the spinning one runs out of fuel; the others compile metered.
	o := runCommand(ctx, t, r, mustInstrument(t, wasmtest.InfiniteLoop), true, 1e7, nil)
	if o.Err == "" || o.Fuel != 1e7 {
		t.Errorf("infinite loop: %+v, want out of fuel after 1e7", o)
	}
	for name, wasm := range map[string][]byte{
		"memory grow": wasmtest.MemoryGrow,
		"huge stdout": wasmtest.HugeStdout, "table grow": wasmtest.TableGrow,
		"unknown import": wasmtest.UnknownImport, "no start": wasmtest.NoStart,
		"host call": wasmtest.HostCall, "bad signature": wasmtest.BadSignature,
		"imports global": wasmtest.ImportsGlobal,
	} {
		if _, err := meter.Instrument(wasm); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, wasm := range map[string][]byte{"empty": wasmtest.Empty, "truncated": wasmtest.Truncated} {
		if _, err := meter.Instrument(wasm); !errors.Is(err, meter.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}
