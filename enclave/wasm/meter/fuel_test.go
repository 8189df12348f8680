package meter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
	"github.com/agentnet/agentnode/enclave/wasm/meter/metertest"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// instance compiles and instantiates wasm in r (no start functions) and, for a metered
// module, attaches a gauge.
func instance(t testing.TB, r wazero.Runtime, wasm []byte, metered bool) (api.Module, *meter.Gauge) {
	t.Helper()
	ctx := context.Background()
	cm, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(ctx); cm.Close(ctx) })
	if !metered {
		return mod, nil
	}
	g, err := meter.NewGauge(mod)
	if err != nil {
		t.Fatal(err)
	}
	return mod, g
}

// fibRecCost is the fuel fibrec(n) of testdata/workloads.wat costs by the cost table:
// 4 for the entry region (local.get, i32.const, i32.lt_u, if), then 1 for the then arm or
// 17 for the else arm (two calls at 5, seven other instructions at 1).
func fibRecCost(n uint32) uint64 {
	if n < 2 {
		return 4 + 1
	}
	return 4 + 17 + fibRecCost(n-1) + fibRecCost(n-2)
}

// TestFuelMatchesCostTable checks exact fuel counts against the documented cost table,
// on both engines: the count is computed from the code, not measured.
func TestFuelMatchesCostTable(t *testing.T) {
	ctx := context.Background()
	wasm := mustInstrument(t, readTestdata(t, "workloads.wasm"))
	for _, eng := range []engine{compiler, interpreter} {
		r := newRuntime(t, eng, false)
		mod, g := instance(t, r, wasm, true)
		for _, tc := range []struct {
			fn   string
			arg  uint32
			want uint64
			res  uint32
		}{
			// loop: 15 per iteration (8 + 7 instructions up to br_if), then local.get.
			{"loop", 1, 15*1 + 1, metertest.Loop(1)},
			{"loop", 1000, 15*1000 + 1, metertest.Loop(1000)},
			{"fibrec", 0, fibRecCost(0), 0},
			{"fibrec", 20, fibRecCost(20), metertest.FibRec(20)},
		} {
			if err := g.Set(1 << 40); err != nil {
				t.Fatal(err)
			}
			res, err := mod.ExportedFunction(tc.fn).Call(ctx, uint64(tc.arg))
			if err != nil {
				t.Fatalf("engine %d: %s(%d): %v", eng, tc.fn, tc.arg, err)
			}
			if uint32(res[0]) != tc.res {
				t.Errorf("engine %d: %s(%d) = %d, want %d", eng, tc.fn, tc.arg, uint32(res[0]), tc.res)
			}
			if got := g.Used(); got != tc.want {
				t.Errorf("engine %d: %s(%d) used %d fuel, want %d", eng, tc.fn, tc.arg, got, tc.want)
			}
			if got := g.Remaining(); got != 1<<40-tc.want {
				t.Errorf("engine %d: remaining %d, want %d", eng, got, uint64(1<<40)-tc.want)
			}
		}
	}
}

// Golden fuel counts of the committed modules. They change only with Version (the cost
// table or the injection points) or when testdata is rebuilt.
const (
	goldenFeaturesFuel = 9172
)

// TestFuelDeterministic runs the same modules repeatedly, on both engines, and checks the
// fuel used never varies and matches the golden counts.
func TestFuelDeterministic(t *testing.T) {
	ctx := context.Background()
	features := mustInstrument(t, readTestdata(t, "features.wasm"))
	for _, eng := range []engine{compiler, interpreter} {
		r := newRuntime(t, eng, false)
		for i := 0; i < 3; i++ {
			o := runCommand(ctx, t, r, features, true, 1e9, nil)
			if o.Fuel != goldenFeaturesFuel {
				t.Fatalf("engine %d run %d: features used %d fuel, want %d", eng, i, o.Fuel, goldenFeaturesFuel)
			}
		}
	}
}

// TestOutOfFuel stops an endless loop with a budget of 1e7 units, well within 50 ms, and
// reports ErrOutOfFuel, not a trap or a deadline.
func TestOutOfFuel(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, compiler, false)
	wasm := mustInstrument(t, readTestdata(t, "infinite.wasm"))
	mod, g := instance(t, r, wasm, true)
	if err := g.Set(1e7); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := mod.ExportedFunction("_start").Call(ctx)
	elapsed := time.Since(start)
	if !errors.Is(err, meter.ErrOutOfFuel) {
		t.Fatalf("call: %v, want ErrOutOfFuel", err)
	}
	if elapsed > 50*time.Millisecond {
		t.Errorf("stopping took %v, want under 50ms", elapsed)
	}
	if g.Used() != 1e7 || g.Remaining() != 0 {
		t.Errorf("used %d, remaining %d; want the whole budget used", g.Used(), g.Remaining())
	}
	t.Logf("1e7 fuel spent in %v", elapsed)
}

// TestOutOfFuelIsNotATrap tells the two apart: a guest unreachable is a trap, not
// ErrOutOfFuel, and an exhausted budget is not a trap.
func TestOutOfFuelIsNotATrap(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, compiler, false)
	mod, g := instance(t, r, mustInstrument(t, readTestdata(t, "trap.wasm")), true)
	if err := g.Set(1e6); err != nil {
		t.Fatal(err)
	}
	_, err := mod.ExportedFunction("outer").Call(ctx, uint64(0xffffffff)) // divides by zero
	if err == nil || errors.Is(err, meter.ErrOutOfFuel) {
		t.Fatalf("trap: got %v", err)
	}
	if err := g.Set(3); err != nil {
		t.Fatal(err)
	}
	if _, err = mod.ExportedFunction("outer").Call(ctx, 1); !errors.Is(err, meter.ErrOutOfFuel) {
		t.Fatalf("budget of 3: got %v, want ErrOutOfFuel", err)
	}
}

// TestFuelAtTrap pins what a trap leaves in the gauge: the fuel as last written back.
// trap.wasm's outer (entry 8: three instructions and a call) calls middle (entry 6: one
// instruction and a call), which calls inner (entry 6: two instructions and a division);
// inner divides by zero before it calls or returns, so its own charge is not counted,
// on both engines and on every run.
func TestFuelAtTrap(t *testing.T) {
	ctx := context.Background()
	wasm := mustInstrument(t, readTestdata(t, "trap.wasm"))
	for _, eng := range []engine{compiler, interpreter} {
		mod, g := instance(t, newRuntime(t, eng, false), wasm, true)
		for run := 0; run < 2; run++ {
			if err := g.Set(1e6); err != nil {
				t.Fatal(err)
			}
			if _, err := mod.ExportedFunction("outer").Call(ctx, uint64(0xffffffff)); err == nil {
				t.Fatal("outer(-1) did not trap")
			}
			if got := g.Used(); got != 8+6 {
				t.Errorf("engine %d run %d: trap left %d fuel used, want %d", eng, run, got, 8+6)
			}
			if err := g.Set(1e6); err != nil {
				t.Fatal(err)
			}
			if _, err := mod.ExportedFunction("outer").Call(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if got := g.Used(); got != 8+6+6 {
				t.Errorf("engine %d run %d: outer(1) used %d fuel, want %d", eng, run, got, 8+6+6)
			}
		}
	}
}

// TestDeadline stops a spinning guest with unlimited fuel at its context deadline, and
// a cancel likewise, without WithCloseOnContextDone.
func TestDeadline(t *testing.T) {
	r := newRuntime(t, compiler, false)
	wasm := mustInstrument(t, readTestdata(t, "infinite.wasm"))
	mod, g := instance(t, r, wasm, true)

	if err := g.Set(meter.MaxFuel); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := mod.ExportedFunction("_start").Call(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call: %v, want DeadlineExceeded", err)
	}
	if late := time.Since(start) - 30*time.Millisecond; late > 20*time.Millisecond {
		t.Errorf("returned %v after the deadline", late)
	}

	if err := g.Set(meter.MaxFuel); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if _, err = mod.ExportedFunction("_start").Call(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("call: %v, want Canceled", err)
	}
	if g.Used() == 0 {
		t.Error("a guest that spun for 10ms used no fuel")
	}

	// A context that is already done stops the guest at its first charge.
	if err := g.Set(meter.MaxFuel); err != nil {
		t.Fatal(err)
	}
	if _, err = mod.ExportedFunction("_start").Call(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("call with a done context: %v, want Canceled", err)
	}
	if used := g.Used(); used > 1 {
		t.Errorf("a done context still let the guest use %d fuel", used)
	}
}

// TestStartFuel checks that a start section runs on the start budget.
func TestStartFuel(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, compiler, false)
	// The start function of features.wasm calls, so it is checked at its entry, and costs
	// 8: i32.const, call (5), i32.add, global.set.
	in := readTestdata(t, "features.wasm")
	for _, tc := range []struct {
		opts    []meter.Option
		wantErr error
	}{
		{nil, nil},
		{[]meter.Option{meter.WithStartFuel(8 + 1)}, nil}, // + 1 for $seven's i32.const
		{[]meter.Option{meter.WithStartFuel(7)}, meter.ErrOutOfFuel},
	} {
		cm, err := r.CompileModule(ctx, mustInstrument(t, in, tc.opts...))
		if err != nil {
			t.Fatal(err)
		}
		mod, err := r.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if !errors.Is(err, tc.wantErr) {
			t.Fatalf("instantiate with %d options: %v, want %v", len(tc.opts), err, tc.wantErr)
		}
		if err == nil {
			g, err := meter.NewGauge(mod)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.opts) == 0 && g.Remaining() != meter.DefaultStartFuel-9 {
				t.Errorf("after the start function: %d fuel left, want %d", g.Remaining(), meter.DefaultStartFuel-9)
			}
			mod.Close(ctx)
		}
		cm.Close(ctx)
	}
}

// TestGauge covers the gauge's errors and bookkeeping.
func TestGauge(t *testing.T) {
	r := newRuntime(t, compiler, false)
	plain, _ := instance(t, r, readTestdata(t, "workloads.wasm"), false)
	if _, err := meter.NewGauge(plain); !errors.Is(err, meter.ErrNotMetered) {
		t.Fatalf("NewGauge of an unmetered module: %v, want ErrNotMetered", err)
	}
	_, g := instance(t, r, mustInstrument(t, readTestdata(t, "workloads.wasm"), meter.WithStartFuel(77)), true)
	if g.Remaining() != 77 || g.Used() != 0 {
		t.Errorf("fresh gauge: remaining %d used %d, want 77 and 0", g.Remaining(), g.Used())
	}
	if err := g.Set(meter.MaxFuel + 1); !errors.Is(err, meter.ErrFuelRange) {
		t.Errorf("Set above MaxFuel: %v, want ErrFuelRange", err)
	}
	if g.Remaining() != 77 {
		t.Errorf("a refused Set changed the fuel to %d", g.Remaining())
	}
	if err := g.Set(meter.MaxFuel); err != nil || g.Remaining() != meter.MaxFuel || g.Used() != 0 {
		t.Errorf("Set(MaxFuel): err %v, remaining %d, used %d", err, g.Remaining(), g.Used())
	}
}

// TestBulkChargedBeforeRunning checks a bulk operation is paid for before it runs: with
// fuel for the first of two 32 KiB fills only, the second never happens.
func TestBulkChargedBeforeRunning(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, compiler, false)
	mod, g := instance(t, r, mustInstrument(t, readTestdata(t, "bulk.wasm")), true)
	// Static region: 2 fills x (3 constants + 2); dynamic: 32768/16 = 2048 per fill.
	if err := g.Set(10 + 2048 + 100); err != nil {
		t.Fatal(err)
	}
	if _, err := mod.ExportedFunction("fill").Call(ctx); !errors.Is(err, meter.ErrOutOfFuel) {
		t.Fatalf("fill: %v, want ErrOutOfFuel", err)
	}
	mem, _ := mod.Memory().Read(0, 65536)
	if mem[0] != 1 || mem[32767] != 1 || mem[32768] != 0 || mem[65535] != 0 {
		t.Fatalf("memory after the stop: [0]=%d [32767]=%d [32768]=%d [65535]=%d; want the first fill only",
			mem[0], mem[32767], mem[32768], mem[65535])
	}
	if err := g.Set(10 + 2*2048); err != nil {
		t.Fatal(err)
	}
	if _, err := mod.ExportedFunction("fill").Call(ctx); err != nil {
		t.Fatalf("fill with enough fuel: %v", err)
	}
	if g.Used() != 10+2*2048 {
		t.Errorf("used %d, want %d", g.Used(), 10+2*2048)
	}
}
