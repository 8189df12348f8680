package meter

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// HostModule provides the agentnet_meter import module that metered modules call. It has
// the shape of the executor's host-module plug-in (Name and Instantiate) and holds no
// state: one instance serves every guest of a runtime, concurrently.
type HostModule struct{}

// NewHostModule returns the agentnet_meter host module.
func NewHostModule() *HostModule { return &HostModule{} }

// Name returns ImportModule, the import module name metered guests use.
func (*HostModule) Name() string { return ImportModule }

// Instantiate defines agentnet_meter.yield and agentnet_meter.out_of_fuel in r.
//
// yield aborts the guest with the call context's error once it is done or past its
// deadline (read from the clock, so a deadline is honoured even before its timer fires),
// and otherwise yields the processor, so that with GOMAXPROCS=1 other goroutines still
// run while a guest spins. out_of_fuel aborts the guest with ErrOutOfFuel.
func (*HostModule) Instantiate(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder(ImportModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(yield), nil, nil).
		WithName(YieldFunc).
		Export(YieldFunc).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(outOfFuel), nil, nil).
		WithName(OutOfFuelFunc).
		Export(OutOfFuelFunc).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("meter: instantiate %s: %w", ImportModule, err)
	}
	return nil
}

// yield is agentnet_meter.yield. Panicking with an error is how a wazero host function
// aborts the call; wazero returns the error wrapped, so errors.Is still matches it.
func yield(ctx context.Context, _ api.Module, _ []uint64) {
	if err := ctx.Err(); err != nil {
		panic(fmt.Errorf("meter: yield: %w", err))
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		panic(fmt.Errorf("meter: yield: %w", context.DeadlineExceeded))
	}
	runtime.Gosched()
}

// outOfFuel is agentnet_meter.out_of_fuel.
func outOfFuel(context.Context, api.Module, []uint64) {
	panic(ErrOutOfFuel)
}
