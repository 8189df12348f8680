package meter_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// readTestdata reads a committed test module.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testCache spares the tests compiling the Go guests more than once per engine.
var testCache = wazero.NewCompilationCache()

// engine selects a wazero engine for a test runtime.
type engine int

const (
	compiler engine = iota
	interpreter
)

// newRuntime returns a runtime with WASI and the meter host module. With closeOnDone the
// runtime stops guests on context expiry the expensive way (the unmetered baseline).
func newRuntime(t testing.TB, eng engine, closeOnDone bool) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfigCompiler()
	if eng == interpreter {
		cfg = wazero.NewRuntimeConfigInterpreter()
	}
	cfg = cfg.WithCoreFeatures(api.CoreFeaturesV2).WithCloseOnContextDone(closeOnDone).WithDebugInfoEnabled(false).
		WithCompilationCache(testCache)
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { r.Close(ctx) })
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := meter.NewHostModule().Instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// outcome is what a run of a WASI command shows: what differential tests compare.
type outcome struct {
	Stdout, Stderr string
	Exit           uint32
	Err            string // first line of a trap or abort, "" without one
	Fuel           uint64 // fuel used (metered runs only)
}

// errLine reduces a wazero call error to its first line without wazero's decoration, so
// that a trap compares equal across the original and the metered module (whose stack
// traces name shifted functions).
func errLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	s = funcIndex.ReplaceAllString(s, "function[N]")
	return strings.TrimSuffix(s, " (recovered by wazero)")
}

// funcIndex matches the function index wazero puts in instantiation errors, which the
// rewrite shifts.
var funcIndex = regexp.MustCompile(`function\[\d+\]`)

// runCommand instantiates wasm in r and calls _start. For a metered module it sets fuel
// first and reports the fuel used.
func runCommand(ctx context.Context, t testing.TB, r wazero.Runtime, wasm []byte, metered bool, fuel uint64, stdin []byte, args ...string) outcome {
	t.Helper()
	cm, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	defer cm.Close(ctx)
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithStdout(&stdout).WithStderr(&stderr).WithStdin(bytes.NewReader(stdin)).
		WithArgs(append([]string{"guest"}, args...)...)
	var o outcome
	mod, err := r.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		o.Err = "instantiate: " + errLine(err)
		return o
	}
	defer mod.Close(ctx)
	var g *meter.Gauge
	if metered {
		if g, err = meter.NewGauge(mod); err != nil {
			t.Fatal(err)
		}
		if err := g.Set(fuel); err != nil {
			t.Fatal(err)
		}
	}
	_, err = mod.ExportedFunction("_start").Call(ctx)
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		o.Exit = exit.ExitCode()
	case err != nil:
		o.Err = errLine(err)
	}
	o.Stdout, o.Stderr = stdout.String(), stderr.String()
	if g != nil {
		o.Fuel = g.Used()
	}
	return o
}

// mustInstrument meters wasm or fails the test.
func mustInstrument(t testing.TB, wasm []byte, opts ...meter.Option) []byte {
	t.Helper()
	out, err := meter.Instrument(wasm, opts...)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	return out
}
