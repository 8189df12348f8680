package wasm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

const header = "\x00asm\x01\x00\x00\x00"

// section encodes one section.
func section(id byte, content ...byte) []byte {
	return append(appendU32([]byte{id}, uint32(len(content))), content...)
}

// module concatenates the header and sections.
func module(sections ...[]byte) []byte {
	return slices.Concat(append([][]byte{[]byte(header)}, sections...)...)
}

func TestScanImports(t *testing.T) {
	allKinds := module(
		section(secType, 1, 0x60, 0, 0),
		section(secImport, 4,
			1, 'm', 1, 'f', 0, 0, // function of type 0
			1, 'm', 1, 't', 1, 0x70, 0, 1, // table funcref min 1
			1, 'm', 3, 'm', 'e', 'm', 2, 1, 1, 2, // memory min 1 max 2
			1, 'm', 1, 'g', 3, 0x7f, 0, // immutable i32 global
		))
	tests := []struct {
		name string
		wasm []byte
		want []importEntry
	}{
		{"hello", wasmtest.Hello, []importEntry{{"wasi_snapshot_preview1", "fd_write", kindFunc}}},
		{"no imports", wasmtest.InfiniteLoop, nil},
		{"global", wasmtest.ImportsGlobal, []importEntry{{"env", "limit", kindGlobal}}},
		{"host call", wasmtest.HostCall, []importEntry{
			{"wasi_snapshot_preview1", "proc_exit", kindFunc}, {"test_host", "answer", kindFunc}}},
		{"every kind", allKinds, []importEntry{
			{"m", "f", kindFunc}, {"m", "t", kindTable}, {"m", "mem", kindMemory}, {"m", "g", kindGlobal}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scanModule(tt.wasm)
			if err != nil || !slices.Equal(got.imports, tt.want) {
				t.Fatalf("scanModule = %+v, %v; want imports %v", got, err, tt.want)
			}
			if !bytes.Equal(got.wasm, tt.wasm) {
				t.Fatal("module rewritten without an unbounded table")
			}
		})
	}
}

// TestScanRejectsAllocationBombs feeds modules of a few bytes that declare huge counts or
// lengths. Given to wazero's decoder unscanned, each makes it allocate gigabytes (the
// first was found by FuzzCompile: 10 GiB from 16 bytes).
func TestScanRejectsAllocationBombs(t *testing.T) {
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	body := func(locals ...byte) []byte { // one code entry holding the local declarations
		b := append(locals, 0x0b)
		return append(appendU32(nil, uint32(len(b))), b...)
	}
	tests := []struct {
		name string
		wasm []byte
		want error
	}{
		{"fuzzer: export count", []byte(header + "\a0\xef\xb8\xb8\xb8\x00\x10"), errMalformed},
		{"fuzzer: code count", []byte(header + "\n0\xaa\xaa\xaa0"), errMalformed},
		{"fuzzer: import count", []byte(header + "\x020\xc6\xc6\xc600"), errMalformed},
		{"export count", module(section(secExport, slices.Concat([]byte{0x80, 0x80, 0x80, 0x80, 0x08}, []byte{0})...)), errOverLimit},
		{"export count backed by nothing", module(section(secExport, 0xa0, 0x8d, 0x06)), errMalformed}, // 100,000
		{"export name length", module(section(secExport, slices.Concat([]byte{1}, huge)...)), errOverLimit},
		{"type parameters", module(section(secType, slices.Concat([]byte{1, 0x60}, huge)...)), errOverLimit},
		{"function locals", module(section(secCode, slices.Concat([]byte{1}, body(slices.Concat([]byte{1}, huge, []byte{0x7f})...))...)), errOverLimit},
		{"data segment length", module(section(secData, slices.Concat([]byte{1, 1}, huge)...)), errMalformed},
		{"element indices", module(section(secElement, slices.Concat([]byte{1, 1, 0}, huge)...)), errOverLimit},
		{"custom section name", module(section(secCustom, huge...)), errOverLimit},
		{"name section function names", module(section(secCustom, slices.Concat([]byte{4, 'n', 'a', 'm', 'e', 1, 5}, []byte{0xc0, 0x84, 0x3d, 0, 0})...)), errMalformed}, // 1,000,000 names in 3 bytes
		{"name section reading past its end", module(section(secCustom, 4, 'n', 'a', 'm', 'e', 0, 1), section(secType, 0x7f)), errMalformed},
		{"section size past the end", []byte(header + "\x01\xff\xff\xff\xff\x0f"), errMalformed},
		{"table minimum", module(section(secTable, slices.Concat([]byte{1, 0x70, 0}, huge)...)), errOverLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := scanModule(tt.wasm); !errors.Is(err, tt.want) {
				t.Fatalf("scanModule = %+v, %v; want %v", got, err, tt.want)
			}
		})
	}
	t.Run("executor stays small", func(t *testing.T) {
		e := newExecutor(t, Config{})
		for _, tt := range tests {
			start := time.Now()
			if _, err := e.Compile(context.Background(), tt.wasm); !errors.Is(err, ErrInvalidModule) {
				t.Errorf("%s: Compile: %v, want ErrInvalidModule", tt.name, err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("%s: took %v", tt.name, took)
			}
		}
	})
}

func TestScanLocalLimits(t *testing.T) {
	// body declaring n locals of i32.
	body := func(n uint32) []byte {
		b := appendU32([]byte{1}, n)
		b = append(b, 0x7f, 0x0b)
		return append(appendU32(nil, uint32(len(b))), b...)
	}
	code := func(bodies ...[]byte) []byte {
		return section(secCode, slices.Concat(append([][]byte{appendU32(nil, uint32(len(bodies)))}, bodies...)...)...)
	}
	if _, err := scanModule(module(code(body(maxFunctionLocals)))); err != nil {
		t.Fatalf("%d locals: %v", maxFunctionLocals, err)
	}
	if _, err := scanModule(module(code(body(maxFunctionLocals + 1)))); !errors.Is(err, errOverLimit) {
		t.Fatalf("%d locals: %v, want errOverLimit", maxFunctionLocals+1, err)
	}
	many := make([][]byte, maxModuleLocals/maxFunctionLocals+1)
	for i := range many {
		many[i] = body(maxFunctionLocals)
	}
	if _, err := scanModule(module(code(many...))); !errors.Is(err, errOverLimit) {
		t.Fatalf("%d functions of %d locals: %v, want errOverLimit", len(many), maxFunctionLocals, err)
	}
}

func TestScanClampsTables(t *testing.T) {
	table := func(limits ...byte) []byte { return module(section(secTable, append([]byte{1, 0x70}, limits...)...)) }
	clamped := table(append([]byte{1, 5}, appendU32(nil, maxTableElements)...)...)
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"no maximum", table(0, 5), clamped},
		{"maximum over the limit", table(append([]byte{1, 5}, appendU32(nil, maxTableElements+1)...)...), clamped},
		{"maximum within the limit", table(1, 5, 9), table(1, 5, 9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scanModule(tt.in)
			if err != nil || !bytes.Equal(got.wasm, tt.want) {
				t.Fatalf("scanModule = %x, %v; want %x", got.wasm, err, tt.want)
			}
			if _, err := scanModule(got.wasm); err != nil {
				t.Fatalf("rewritten module does not scan: %v", err)
			}
		})
	}

	e := newExecutor(t, Config{})
	res, err := e.Run(context.Background(), mustCompile(t, e, wasmtest.TableGrow), Input{})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("TableGrow: %+v, %v; want exit 0 (a 2^31 grow refused)", res, err)
	}
}

// TestScanAgreesWithWazeroOnSpecSuite runs the scanner over every .wasm in wazero's
// module (the WebAssembly spec test suites and real toolchain output): each module wazero
// compiles must scan, except encodings beyond WebAssembly 2.0, which the scanner refuses
// on purpose, and the scanner must see the same function imports.
func TestScanAgreesWithWazeroOnSpecSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("reads thousands of modules")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Skipf("wazero's module directory not found: %v", err)
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	defer r.Close(ctx)
	var total, compiled, beyondV2 int
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".wasm") {
			return err
		}
		wasm, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		total++
		c, err := r.CompileModule(ctx, wasm)
		if err != nil {
			return nil
		}
		defer c.Close(ctx)
		compiled++
		sc, err := scanModule(wasm)
		if err != nil && strings.Contains(path, "typed-function-references") {
			beyondV2++
			return nil
		}
		if err != nil {
			t.Errorf("%s: wazero compiles it, scanModule: %v", path, err)
			return nil
		}
		var funcs []string
		for _, imp := range sc.imports {
			if imp.kind == kindFunc {
				funcs = append(funcs, imp.module+"."+imp.name)
			}
		}
		var want []string
		for _, def := range c.ImportedFunctions() {
			module, name, _ := def.Import()
			want = append(want, module+"."+name)
		}
		if !slices.Equal(funcs, want) {
			t.Errorf("%s: function imports %v, wazero sees %v", path, funcs, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if compiled < 1000 {
		t.Fatalf("only %d of %d modules compiled: not the spec suite", compiled, total)
	}
	t.Logf("%d modules, %d compiled by wazero, %d of those beyond WebAssembly 2.0", total, compiled, beyondV2)
}

// FuzzScanModule checks the scanner on arbitrary bytes: it never panics, and whatever it
// accepts wazero decodes with the same function imports. (Only accepted inputs reach
// wazero: the rejected ones may be allocation bombs.)
func FuzzScanModule(f *testing.F) {
	for _, wasm := range [][]byte{wasmtest.Hello, wasmtest.HostCall, wasmtest.ImportsGlobal,
		wasmtest.OpenFile, wasmtest.TableGrow, wasmtest.Truncated, wasmtest.Empty, wasmtest.ManyFuncs(2)} {
		f.Add(wasm)
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	f.Cleanup(func() { _ = r.Close(ctx) })
	f.Fuzz(func(t *testing.T, wasm []byte) {
		sc, err := scanModule(wasm)
		if err != nil {
			if !errors.Is(err, errMalformed) && !errors.Is(err, errOverLimit) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		c, err := r.CompileModule(ctx, sc.wasm)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		var n int
		for _, imp := range sc.imports {
			if imp.kind == kindFunc {
				n++
			}
		}
		if n != len(c.ImportedFunctions()) {
			t.Fatalf("%d function imports, wazero sees %d", n, len(c.ImportedFunctions()))
		}
	})
}
