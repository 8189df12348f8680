package meter_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
	"github.com/agentnet/agentnode/enclave/wasm/meter/metertest"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Benchmark sizes: each operation takes a few milliseconds natively.
const (
	benchLoopN = 10_000_000
	benchFibN  = 27
	benchSHAN  = 1 << 20
)

// guest is one benchmark instance: call runs the workload once.
type guest struct {
	call func() (uint64, error)
}

// benchGuest instantiates wasm for a benchmark mode: "deadline" is the unmetered module
// on a runtime with WithCloseOnContextDone, "metered" the metered module without it.
// Both calls carry a context with a deadline, as the executor's would. init names a
// function to call once (a reactor's _initialize), setup prepares memory.
func benchGuest(b *testing.B, wasm []byte, mode, fn, init string, setup func(api.Module), args ...uint64) guest {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	b.Cleanup(cancel)
	metered := mode == "metered" || mode == "go-metered"
	if metered {
		wasm = mustInstrument(b, wasm)
	}
	r := newRuntime(b, compiler, mode == "deadline" || mode == "go-deadline")
	mod, g := instance(b, r, wasm, metered)
	if g != nil {
		if err := g.Set(meter.MaxFuel); err != nil {
			b.Fatal(err)
		}
	}
	if init != "" {
		if _, err := mod.ExportedFunction(init).Call(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if setup != nil {
		setup(mod)
	}
	f := mod.ExportedFunction(fn)
	stack := make([]uint64, max(len(args), 1))
	return guest{call: func() (uint64, error) {
		if g != nil {
			if err := g.Set(meter.MaxFuel); err != nil {
				return 0, err
			}
		}
		copy(stack, args)
		err := f.CallWithStack(ctx, stack)
		return stack[0], err
	}}
}

// runGuest benchmarks a guest and checks its result against the native one.
func runGuest(b *testing.B, gs guest, want uint64) {
	b.Helper()
	for b.Loop() {
		got, err := gs.call()
		if err != nil {
			b.Fatal(err)
		}
		if got != want {
			b.Fatalf("result %d, want %d", got, want)
		}
	}
}

// BenchmarkMeter compares, on four workloads, native Go doing the same work, the
// unmetered module stopped by WithCloseOnContextDone and a deadline, and the metered
// module stopped by fuel and yield. Names: BenchmarkMeter/<workload>/<mode>.
func BenchmarkMeter(b *testing.B) {
	workloads := readTestdata(b, "workloads.wasm")
	shaWasm := readTestdata(b, "sha256.wasm")
	goBench := readTestdata(b, "gobench.wasm")
	shaData := metertest.Pattern(benchSHAN)
	shaSum := metertest.SHA256(shaData)
	shaWord := uint64(shaSum[0])<<24 | uint64(shaSum[1])<<16 | uint64(shaSum[2])<<8 | uint64(shaSum[3])
	jsonDoc := metertest.JSONDoc(200)
	jsonSum, err := metertest.JSONParse(jsonDoc)
	if err != nil {
		b.Fatal(err)
	}
	writeSHA := func(mod api.Module) {
		if !mod.Memory().Write(shaInput, shaData) {
			b.Fatal("sha256 input does not fit")
		}
	}
	var sink uint32

	b.Run("loop/native", func(b *testing.B) {
		for b.Loop() {
			sink += metertest.Loop(benchLoopN)
		}
	})
	for _, mode := range []string{"plain", "deadline", "metered"} {
		b.Run("loop/"+mode, func(b *testing.B) {
			runGuest(b, benchGuest(b, workloads, mode, "loop", "", nil, benchLoopN), uint64(metertest.Loop(benchLoopN)))
		})
	}

	b.Run("fib/native", func(b *testing.B) {
		for b.Loop() {
			sink += metertest.Fib(benchFibN)
		}
	})
	for _, mode := range []string{"plain", "deadline", "metered"} {
		b.Run("fib/"+mode, func(b *testing.B) {
			runGuest(b, benchGuest(b, workloads, mode, "fib", "", nil, benchFibN), uint64(metertest.Fib(benchFibN)))
		})
	}
	// The doubly recursive form has no loop, so WithCloseOnContextDone costs it nothing:
	// shown for completeness, it is the one shape where metering is the dearer option.
	b.Run("fibrec/native", func(b *testing.B) {
		for b.Loop() {
			sink += metertest.FibRec(benchFibN)
		}
	})
	for _, mode := range []string{"plain", "deadline", "metered"} {
		b.Run("fibrec/"+mode, func(b *testing.B) {
			runGuest(b, benchGuest(b, workloads, mode, "fibrec", "", nil, benchFibN), uint64(metertest.FibRec(benchFibN)))
		})
	}

	// sha256 of 1 MiB. native is plain Go with the structure of the WAT kernel (the
	// baseline of the 2.5x target); native-asm is crypto/sha256 (SHA-NI or AVX2 here);
	// go-* is crypto/sha256 compiled to wasm by Go (plain Go on wasm), for reference.
	b.Run("sha256/native", func(b *testing.B) {
		for b.Loop() {
			s := metertest.SHA256(shaData)
			sink += uint32(s[0])
		}
	})
	b.Run("sha256/native-asm", func(b *testing.B) {
		for b.Loop() {
			s := sha256.Sum256(shaData)
			sink += uint32(s[0])
		}
	})
	for _, mode := range []string{"plain", "deadline", "metered"} {
		b.Run("sha256/"+mode, func(b *testing.B) {
			gs := benchGuest(b, shaWasm, mode, "sha256", "", writeSHA, shaInput, benchSHAN, 2048)
			for b.Loop() {
				if _, err := gs.call(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("sha256/go-"+mode, func(b *testing.B) {
			runGuest(b, benchGuest(b, goBench, mode, "sha256_mib", "_initialize", nil), shaWord)
		})
	}

	// JSON: encoding/json decoding 200 records (about 50 KB), Go-compiled to wasm.
	b.Run("json/native", func(b *testing.B) {
		for b.Loop() {
			s, _ := metertest.JSONParse(jsonDoc)
			sink += s
		}
	})
	for _, mode := range []string{"plain", "deadline", "metered"} {
		b.Run("json/"+mode, func(b *testing.B) {
			runGuest(b, benchGuest(b, goBench, mode, "json_parse", "_initialize", nil), uint64(jsonSum))
		})
	}
	_ = sink
}

// BenchmarkOutOfFuel measures how long a spinning guest with a budget of 1e7 units runs
// before it is stopped (the target is under 50 ms).
func BenchmarkOutOfFuel(b *testing.B) {
	ctx := context.Background()
	r := newRuntime(b, compiler, false)
	mod, g := instance(b, r, mustInstrument(b, readTestdata(b, "infinite.wasm")), true)
	f := mod.ExportedFunction("_start")
	for b.Loop() {
		if err := g.Set(1e7); err != nil {
			b.Fatal(err)
		}
		if _, err := f.Call(ctx); !errors.Is(err, meter.ErrOutOfFuel) {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstrument measures the admission cost of metering a 3.6 MB Go guest,
// validation by wazero's interpreter included.
func BenchmarkInstrument(b *testing.B) {
	in := readTestdata(b, "goguest.wasm")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := meter.Instrument(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile compares wazero compile times of the original and the metered Go
// guest: metering grows the code and so the compile.
func BenchmarkCompile(b *testing.B) {
	in := readTestdata(b, "goguest.wasm")
	for _, tc := range []struct {
		name string
		wasm []byte
	}{{"original", in}, {"metered", mustInstrument(b, in)}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
				if _, err := r.CompileModule(ctx, tc.wasm); err != nil {
					b.Fatal(err)
				}
				r.Close(ctx)
			}
		})
	}
}
