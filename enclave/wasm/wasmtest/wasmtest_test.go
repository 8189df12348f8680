package wasmtest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

// run executes a module on a plain wazero runtime (not the executor under test), so these
// tests check the modules themselves.
func run(t *testing.T, wasm []byte, cfg wazero.ModuleConfig) (stdout []byte, exit uint32, err error) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithMemoryLimitPages(64))
	t.Cleanup(func() { _ = r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	var out bytes.Buffer
	mod, err := r.InstantiateWithConfig(ctx, wasm, cfg.WithStdout(&out).WithName(""))
	if mod != nil {
		_ = mod.Close(ctx)
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		return out.Bytes(), ee.ExitCode(), nil
	}
	return out.Bytes(), 0, err
}

func TestModules(t *testing.T) {
	tests := []struct {
		name  string
		wasm  []byte
		args  []string
		stdin string
		want  string
		exit  uint32
	}{
		{name: "hello", wasm: wasmtest.Hello, want: "hello\n"},
		{name: "echo no args", wasm: wasmtest.EchoArgs, want: "\n"},
		{name: "echo args", wasm: wasmtest.EchoArgs, args: []string{"a", "bc", "", "d e"}, want: "a bc  d e\n"},
		{name: "cat", wasm: wasmtest.Cat, stdin: "some input\x00\xff", want: "some input\x00\xff"},
		{name: "cat empty", wasm: wasmtest.Cat},
		{name: "exit 3", wasm: wasmtest.Exit, args: []string{"3"}, exit: 3},
		{name: "exit 4000000000", wasm: wasmtest.Exit, args: []string{"4000000000"}, exit: 4000000000},
		{name: "exit none", wasm: wasmtest.Exit},
		{name: "many funcs", wasm: wasmtest.ManyFuncs(50)},
		{name: "dump memory", wasm: wasmtest.DumpMemory, want: "\x00\x00\x00\x00\x00\x00\x01\x00" + string(make([]byte, 65536-8))},
		{name: "oversized", wasm: wasmtest.Oversized(10_000), want: "hello\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := wazero.NewModuleConfig().WithArgs(append([]string{"agent"}, tt.args...)...).
				WithStdin(bytes.NewReader([]byte(tt.stdin)))
			out, exit, err := run(t, tt.wasm, cfg)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if string(out) != tt.want || exit != tt.exit {
				t.Fatalf("got stdout %q exit %d, want %q exit %d", out, exit, tt.want, tt.exit)
			}
		})
	}
}

func TestExitBadArgumentTraps(t *testing.T) {
	_, _, err := run(t, wasmtest.Exit, wazero.NewModuleConfig().WithArgs("agent", "3x"))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("unreachable")) {
		t.Fatalf("err = %v, want an unreachable trap", err)
	}
}

func TestOpenFileReadsWhenMounted(t *testing.T) {
	want, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Skipf("no /etc/passwd on this host: %v", err)
	}
	cfg := wazero.NewModuleConfig().WithFSConfig(wazero.NewFSConfig().WithReadOnlyDirMount("/", "/"))
	out, exit, err := run(t, wasmtest.OpenFile, cfg)
	if err != nil || exit != 0 {
		t.Fatalf("run: exit %d, %v", exit, err)
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("stdout is %d bytes, want the %d bytes of /etc/passwd", len(out), len(want))
	}
}

func TestOpenFileExitsWithErrnoWithoutFS(t *testing.T) {
	_, exit, err := run(t, wasmtest.OpenFile, wazero.NewModuleConfig())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if exit == 0 {
		t.Fatal("exit code 0 without a file system, want the errno")
	}
}

func TestOversizedIsOverLimit(t *testing.T) {
	for _, n := range []int{-1, 0, 1, len(wasmtest.Hello), 127, 128, 200, 1 << 20} {
		if got := len(wasmtest.Oversized(n)); got <= n {
			t.Errorf("len(Oversized(%d)) = %d, want > %d", n, got, n)
		}
	}
}

func TestHostileAndBrokenModulesAreDistinct(t *testing.T) {
	if len(wasmtest.Empty) != 0 {
		t.Fatal("Empty is not empty")
	}
	if len(wasmtest.Truncated) == 0 || len(wasmtest.Truncated) >= len(wasmtest.Hello) {
		t.Fatalf("Truncated is %d bytes, Hello %d", len(wasmtest.Truncated), len(wasmtest.Hello))
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	for name, wasm := range map[string][]byte{"empty": wasmtest.Empty, "truncated": wasmtest.Truncated} {
		if _, err := r.CompileModule(ctx, wasm); err == nil {
			t.Errorf("%s compiled", name)
		}
	}
	for name, wasm := range wasmtest.Hostile() {
		if name == "empty" || name == "truncated" {
			continue
		}
		if _, err := r.CompileModule(ctx, wasm); err != nil {
			t.Errorf("%s does not compile: %v", name, err)
		}
	}
}
