package meter

import (
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// Gauge sets and reads the fuel of one instance of a metered module through its exported
// fuel globals. Use it between calls, not while the instance runs: like the instance
// itself, it is not safe for concurrent use.
type Gauge struct {
	fuel, reserve api.MutableGlobal
	limit         uint64
}

// NewGauge attaches to an instance of a module produced by Instrument. The budget it
// counts Used against is what the instance holds now (the start budget left after
// instantiation) until Set is called. A module without the fuel globals is ErrNotMetered.
func NewGauge(mod api.Module) (*Gauge, error) {
	fuel, err := fuelGlobal(mod, FuelExport)
	if err != nil {
		return nil, err
	}
	reserve, err := fuelGlobal(mod, ReserveExport)
	if err != nil {
		return nil, err
	}
	g := &Gauge{fuel: fuel, reserve: reserve}
	g.limit = g.Remaining()
	return g, nil
}

func fuelGlobal(mod api.Module, name string) (api.MutableGlobal, error) {
	g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
	if !ok || g.Type() != api.ValueTypeI64 {
		return nil, fmt.Errorf("meter: module %q has no mutable i64 global %q: %w", mod.Name(), name, ErrNotMetered)
	}
	return g, nil
}

// Set gives the instance a budget of fuel units (at most MaxFuel) for the next calls and
// makes it the budget Used counts against. The first charge after Set calls yield, so a
// call whose context is already done stops before doing any work.
func (g *Gauge) Set(fuel uint64) error {
	if fuel > MaxFuel {
		return fmt.Errorf("meter: set fuel %d above %d: %w", fuel, uint64(MaxFuel), ErrFuelRange)
	}
	g.fuel.Set(0)
	g.reserve.Set(fuel)
	g.limit = fuel
	return nil
}

// Remaining returns the fuel left; 0 once the budget is spent or overrun.
func (g *Gauge) Remaining() uint64 {
	left := int64(g.fuel.Get()) + int64(g.reserve.Get())
	if left < 0 {
		return 0
	}
	return uint64(left)
}

// Used returns the fuel spent since the last Set (or since NewGauge). The count depends
// only on the module and what the guest did, never on timing or on the machine. It can
// exceed the budget when a call ended in straight-line code past its budget (see the
// package doc): the overrun is bounded by the cost of that code, and a caller that
// wants a hard cap treats Used() > budget as ErrOutOfFuel.
func (g *Gauge) Used() uint64 {
	left := int64(g.fuel.Get()) + int64(g.reserve.Get())
	return g.limit - uint64(left) // two's complement: a negative left adds its magnitude
}
