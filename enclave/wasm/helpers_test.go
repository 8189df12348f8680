package wasm

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

// newExecutor returns an executor closed when the test ends.
func newExecutor(t testing.TB, cfg Config) *Executor {
	t.Helper()
	e, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// mustCompile compiles wasm or fails the test.
func mustCompile(t testing.TB, e *Executor, wasm []byte) *Module {
	t.Helper()
	m, err := e.Compile(context.Background(), wasm)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return m
}

// checkHello runs Hello and fails the test unless it prints "hello\n": the executor is
// still usable.
func checkHello(t testing.TB, e *Executor) {
	t.Helper()
	m := mustCompile(t, e, wasmtest.Hello)
	res, err := e.Run(context.Background(), m, Input{})
	if err != nil || string(res.Stdout) != "hello\n" || res.ExitCode != 0 {
		t.Fatalf("Hello after: res %+v, err %v", res, err)
	}
}

// testHost is a host module "test_host" exporting answer() -> i32 (imported by
// wasmtest.HostCall).
type testHost struct {
	name   string
	answer func(ctx context.Context) uint32
	fail   error // returned by Instantiate
	alias  string
}

func (h *testHost) Name() string { return h.name }

func (h *testHost) Instantiate(ctx context.Context, r wazero.Runtime) error {
	if h.fail != nil {
		return h.fail
	}
	name := h.name
	if h.alias != "" {
		name = h.alias // instantiate under another name than Name() says: a broken host module
	}
	_, err := r.NewHostModuleBuilder(name).NewFunctionBuilder().
		WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
			stack[0] = uint64(h.answer(ctx))
		}), nil, []api.ValueType{api.ValueTypeI32}).
		Export("answer").
		Instantiate(ctx)
	return err
}

var errHostBroken = errors.New("host module broken")
