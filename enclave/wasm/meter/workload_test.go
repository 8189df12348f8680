package meter_test

import (
	"context"
	"crypto/sha256"
	"math"
	"testing"

	"github.com/agentnet/agentnode/enclave/wasm/meter/metertest"
	"github.com/tetratelabs/wazero/api"
)

// shaInput is where the sha256 workload's data goes in the guest's memory.
const shaInput = 4096

// guestSHA256 hashes data with the sha256 export of testdata/sha256.wat.
func guestSHA256(t testing.TB, ctx context.Context, mod api.Module, data []byte) [32]byte {
	t.Helper()
	if !mod.Memory().Write(shaInput, data) {
		t.Fatalf("write %d bytes: out of memory", len(data))
	}
	if _, err := mod.ExportedFunction("sha256").Call(ctx, shaInput, uint64(len(data)), 2048); err != nil {
		t.Fatal(err)
	}
	out, _ := mod.Memory().Read(2048, 32)
	return [32]byte(out)
}

// TestWorkloads checks the metered benchmark kernels compute what their native twins do,
// so the benchmarks compare equal work.
func TestWorkloads(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, compiler, false)
	mod, g := instance(t, r, mustInstrument(t, readTestdata(t, "workloads.wasm")), true)
	for _, tc := range []struct {
		fn   string
		arg  uint32
		want uint32
	}{
		{"loop", 100000, metertest.Loop(100000)},
		{"fib", 20, metertest.Fib(20)},
		{"fibrec", 20, metertest.FibRec(20)},
	} {
		if err := g.Set(1e9); err != nil {
			t.Fatal(err)
		}
		res, err := mod.ExportedFunction(tc.fn).Call(ctx, uint64(tc.arg))
		if err != nil || uint32(res[0]) != tc.want {
			t.Errorf("%s(%d) = %v, %v; want %d", tc.fn, tc.arg, res, err, tc.want)
		}
	}
	if metertest.Fib(25) != metertest.FibRec(25) {
		t.Error("the two native Fibonacci functions disagree")
	}

	sha, g := instance(t, r, mustInstrument(t, readTestdata(t, "sha256.wasm")), true)
	for _, n := range []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 1 << 20} {
		data := metertest.Pattern(n)
		want := sha256.Sum256(data)
		if err := g.Set(1e10); err != nil {
			t.Fatal(err)
		}
		if got := guestSHA256(t, ctx, sha, data); got != want {
			t.Errorf("guest sha256 of %d bytes = %x, want %x", n, got, want)
		}
		if got := metertest.SHA256(data); got != want {
			t.Errorf("metertest.SHA256 of %d bytes = %x, want %x", n, got, want)
		}
	}
}

// TestWazeroFloatSelect documents a wazero v1.12.0 compiler bug that metered code meets
// more often than unmetered code (it adds register pressure): a float select can return
// garbage (wazero issue 2534, fixed upstream by pull request 2535 after v1.12.0). The
// test skips while the bug is present and fails once it is fixed, as a reminder to enable
// metertest's floatSelect again.
func TestWazeroFloatSelect(t *testing.T) {
	ctx := context.Background()
	want := math.Float32bits(-36.9)
	for _, eng := range []engine{interpreter, compiler} {
		r := newRuntime(t, eng, false)
		mod, _ := instance(t, r, readTestdata(t, "wazero2534.wasm"), false)
		res, err := mod.ExportedFunction("f").Call(ctx, 0, uint64(math.Float32bits(21)), 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := uint32(res[0]); got != want {
			if eng == compiler {
				t.Skipf("wazero issue 2534 present: the compiler returns %#x, want %#x", got, want)
			}
			t.Fatalf("the interpreter returns %#x, want %#x", got, want)
		}
	}
	t.Error("wazero issue 2534 is fixed: set metertest.floatSelect to true")
}
