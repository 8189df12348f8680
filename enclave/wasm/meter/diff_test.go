package meter_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
	"github.com/agentnet/agentnode/enclave/wasm/meter/metertest"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// genRuntime returns a runtime for generated modules: the meter host module and the
// "env" module they may import.
func genRuntime(t testing.TB, eng engine) wazero.Runtime {
	t.Helper()
	r := newRuntime(t, eng, false)
	ctx := context.Background()
	env, err := r.CompileModule(ctx, readTestdata(t, "env.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.InstantiateModule(ctx, env, wazero.NewModuleConfig().WithName(metertest.HostModule)); err != nil {
		t.Fatal(err)
	}
	return r
}

// callOutcome is the result of calling one export.
type callOutcome struct {
	Name    string
	Results []uint64
	Err     string
}

// genOutcome is everything a run of a generated module shows.
type genOutcome struct {
	Instantiate string
	Calls       []callOutcome
	Memory      [32]byte
	Pages       uint32
	Globals     []uint64
	Fuel        uint64
}

// canonical maps every NaN to one bit pattern: NaN payloads are not part of what the
// rewrite must preserve (two compilations may pick either operand's payload).
func canonical(t api.ValueType, v uint64) uint64 {
	switch t {
	case api.ValueTypeF32:
		if math.IsNaN(float64(math.Float32frombits(uint32(v)))) {
			return 0x7fc00000
		}
	case api.ValueTypeF64:
		if math.IsNaN(math.Float64frombits(v)) {
			return 0x7ff8000000000000
		}
	}
	return v
}

// argsFor returns deterministic arguments for a function's parameters.
func argsFor(params []api.ValueType, salt int) []uint64 {
	args := make([]uint64, len(params))
	for i, p := range params {
		k := uint64(salt*7 + i*13 + 1)
		switch p {
		case api.ValueTypeI32:
			args[i] = uint64(uint32(k * 2654435761))
		case api.ValueTypeI64:
			args[i] = k * 0x9e3779b97f4a7c15
		case api.ValueTypeF32:
			args[i] = uint64(math.Float32bits(float32(k) * 1.5))
		case api.ValueTypeF64:
			args[i] = math.Float64bits(float64(k) * -2.25)
		}
	}
	return args
}

// runGenerated instantiates a generated module and calls its exports f0, f1, ... in
// order, twice each with different arguments.
func runGenerated(ctx context.Context, t testing.TB, r wazero.Runtime, wasm []byte, metered bool, fuel uint64) genOutcome {
	t.Helper()
	var o genOutcome
	cm, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	defer cm.Close(ctx)
	mod, err := r.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		o.Instantiate = errLine(err)
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
	var names []string
	for name := range cm.ExportedFunctions() {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimPrefix(names[i], "f"))
		b, _ := strconv.Atoi(strings.TrimPrefix(names[j], "f"))
		return a < b
	})
	for round := 0; round < 2; round++ {
		for i, name := range names {
			fn := mod.ExportedFunction(name)
			def := fn.Definition()
			res, err := fn.Call(ctx, argsFor(def.ParamTypes(), round*100+i)...)
			c := callOutcome{Name: name, Err: errLine(err)}
			for k, v := range res {
				c.Results = append(c.Results, canonical(def.ResultTypes()[k], v))
			}
			o.Calls = append(o.Calls, c)
		}
	}
	mem := mod.Memory()
	buf, _ := mem.Read(0, mem.Size())
	o.Memory = sha256.Sum256(buf)
	o.Pages = mem.Size() / 65536
	for i := 0; ; i++ {
		gl := mod.ExportedGlobal(fmt.Sprintf("g%d", i))
		if gl == nil {
			break
		}
		o.Globals = append(o.Globals, canonical(gl.Type(), gl.Get()))
	}
	if g != nil {
		o.Fuel = g.Used()
	}
	return o
}

// genConfigs are the generator settings the differential tests cycle through.
var genConfigs = []metertest.GenConfig{
	{},
	{Imports: true},
	{SIMD: true, Start: true},
	{Imports: true, Start: true, SIMD: true, Funcs: 9, Budget: 300},
}

// checkGenerated meters one generated module and compares it with the original.
func checkGenerated(t *testing.T, r wazero.Runtime, seed uint64, cfg metertest.GenConfig) {
	t.Helper()
	ctx := context.Background()
	in := metertest.Generate(seed, cfg)
	out, err := meter.Instrument(in)
	if err != nil {
		t.Fatalf("seed %d: Instrument: %v", seed, err)
	}
	want := runGenerated(ctx, t, r, in, false, 0)
	got := runGenerated(ctx, t, r, out, true, 1<<40)
	fuel := got.Fuel
	got.Fuel = 0
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("seed %d %+v: metered module differs\noriginal: %+v\nmetered:  %+v", seed, cfg, want, got)
	}
	if again := runGenerated(ctx, t, r, out, true, 1<<40); again.Fuel != fuel {
		t.Fatalf("seed %d: fuel %d then %d on the same run", seed, fuel, again.Fuel)
	}
}

// TestDifferentialGenerated checks that random valid modules behave identically once
// metered: same results, traps, memory and globals, and the same fuel on a second run.
func TestDifferentialGenerated(t *testing.T) {
	r := genRuntime(t, compiler)
	n := 200
	if testing.Short() {
		n = 40
	}
	traps := 0
	for seed := uint64(0); seed < uint64(n); seed++ {
		cfg := genConfigs[seed%uint64(len(genConfigs))]
		checkGenerated(t, r, seed, cfg)
		if o := runGenerated(context.Background(), t, r, metertest.Generate(seed, cfg), false, 0); o.Instantiate != "" || hasTrap(o) {
			traps++
		}
	}
	// The generator must exercise trapping paths too, but not only those.
	if traps == 0 || traps == n {
		t.Fatalf("%d of %d generated modules trapped; the generator lost its balance", traps, n)
	}
}

func hasTrap(o genOutcome) bool {
	for _, c := range o.Calls {
		if c.Err != "" {
			return true
		}
	}
	return false
}
