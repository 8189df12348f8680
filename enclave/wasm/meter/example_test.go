package meter_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
	"github.com/tetratelabs/wazero"
)

// Example meters a module, runs one of its functions under a budget, reads the fuel it
// used, then lets an endless loop run out of fuel.
func Example() {
	ctx := context.Background()
	wasm, err := os.ReadFile("testdata/workloads.wasm")
	if err != nil {
		panic(err)
	}
	metered, err := meter.Instrument(wasm)
	if err != nil {
		panic(err)
	}

	r := wazero.NewRuntime(ctx) // no WithCloseOnContextDone needed
	defer r.Close(ctx)
	if err := meter.NewHostModule().Instantiate(ctx, r); err != nil {
		panic(err)
	}
	mod, err := r.InstantiateWithConfig(ctx, metered, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		panic(err)
	}
	gauge, err := meter.NewGauge(mod)
	if err != nil {
		panic(err)
	}

	if err := gauge.Set(1_000_000); err != nil {
		panic(err)
	}
	res, err := mod.ExportedFunction("loop").Call(ctx, 1000)
	fmt.Println("loop(1000) =", res[0], err, "fuel used:", gauge.Used())

	if err := gauge.Set(1_000_000); err != nil {
		panic(err)
	}
	_, err = mod.ExportedFunction("spin").Call(ctx)
	fmt.Println("spin:", errors.Is(err, meter.ErrOutOfFuel), "fuel used:", gauge.Used())
	// Output:
	// loop(1000) = 501996 <nil> fuel used: 15001
	// spin: true fuel used: 1000000
}
