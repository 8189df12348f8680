// Package meter adds deterministic fuel metering to WebAssembly modules by rewriting them
// at admission, so that a wazero guest can be stopped by a fuel budget, a deadline or a
// cancel without wazero's WithCloseOnContextDone, which exits to Go at every loop header
// and slows loops down by up to two orders of magnitude.
//
// # How a metered module works
//
// [Instrument] decodes the module (every opcode and immediate of wazero's
// api.CoreFeaturesV2: MVP, mutable globals, sign extension, non-trapping float-to-int,
// multi-value, bulk memory, reference types and 128-bit SIMD; anything else is
// [ErrUnsupported]) and adds:
//
//   - two mutable i64 globals, exported as [FuelExport] ("agentnet_meter.fuel", the fuel
//     left before the next yield point) and [ReserveExport] ("agentnet_meter.reserve",
//     the fuel behind it). The fuel left is their sum;
//   - two imported functions, [ImportModule].[YieldFunc] and
//     [ImportModule].[OutOfFuelFunc], provided by [HostModule];
//   - two defined helper functions (refill, grow) and three types.
//
// Code is split into metered regions. A region opens at the function entry, at every
// loop header, at the start of an if or else arm, after the end of a loop, after a join
// point (the end of an if, or of a block that some branch leaves) and after a br_if back
// to a loop header; it runs to the next of those or to br, br_table, return or
// unreachable. (A br_if out of a block does not end the region: a taken exit is charged
// for the rest of the region.) At its start every region subtracts its static cost (the
// cost table below) from the fuel. Within a function the fuel lives in an added i64
// local, read from the fuel global at the entry and after every call, and written back
// before every call, return, branch out of the function and unreachable: a global is a
// memory cell, and loading and storing it in every region made one chain of dependent
// memory operations through the whole run (fib cost 1.33x the unmetered module that way,
// 1.1-1.2x with the local). Checks are fewer: at every loop header and at the entry of
// every function that calls, the guest tests
//
//	if fuel < cost { refill(cost) }
//
// so every loop iteration and every call, hence every way to run long, passes a check.
// A loop is wrapped in three blocks so that its check branches out of the loop to the
// refill call and back to the header: a call inside a loop body makes wazero's register
// allocator spill the loop's variables on every iteration. refill moves up to the yield
// interval ([WithYieldInterval], default 2^24 units) from the reserve into fuel and
// calls agentnet_meter.yield, which checks the context of the call (a deadline or a
// cancel aborts the guest with the context's error) and yields the Go scheduler; when
// fuel plus reserve cannot pay the cost it calls agentnet_meter.out_of_fuel instead,
// which aborts the guest with [ErrOutOfFuel].
//
// Bulk memory and table operations, whose cost depends on their count operand, are
// checked right after their charge, before they run. Between two checks the fuel may go
// below zero: a guest whose last stretch of straight-line code (no loop, no call)
// overruns its budget finishes it, and [Gauge.Used] then exceeds the budget by at most
// the cost of that stretch. An executor that wants a hard cap treats Used > budget as
// out of fuel.
//
// Adding function imports shifts the indices of defined functions by two; calls,
// ref.func, exports, the start function, element segments, global initializers and the
// name section are remapped. Custom sections other than "name" are dropped: debug
// information would describe code that no longer exists. The output is checked by
// compiling it with wazero; [ErrRewrite] would report a defect of this package.
//
// # Cost table
//
// Charges depend only on the code and, for bulk operations, on their operands, never on
// time or on the machine, so the fuel used by a run is identical on every run and every
// host (it is billable and part of the result commitment). Units:
//
//	nop, block, loop, else, end                           0
//	integer div/rem, float div/sqrt (scalar and SIMD)     4
//	call                                                  5
//	call_indirect                                        10
//	memory.grow, table.grow                      20 + 4096 per page / 1 per element, on success
//	memory.fill, memory.copy, memory.init         2 + 1 per 16 bytes
//	table.fill, table.copy, table.init            2 + 1 per element
//	every other instruction                               1
//
// A region is charged in full when it is entered, so a taken br_if out of it charges a
// few instructions that did not run. A trap other than unreachable (a division by zero,
// an out-of-bounds access, a stack overflow) leaves the fuel as it was last written
// back: the charges of the trapping function since its entry or its last call are not
// counted, at most about a yield interval, since every refill writes back. Both are
// deterministic. The table is versioned by [Version].
//
// # Running a metered module
//
// Instantiate [HostModule] once per wazero.Runtime (which must not need
// WithCloseOnContextDone). Per run: instantiate the module with no start functions,
// attach a [Gauge], [Gauge.Set] the budget, call _start (or an export) with the run's
// context, then read [Gauge.Used]. A start section, which runs during instantiation,
// draws on the start budget of [WithStartFuel].
//
// # Limits
//
// The input is capped by [WithMaxModuleSize] (default 32 MiB) and every vector length
// it declares by the bytes that could hold it, before anything is allocated; the output
// is at most four times the cap. Loops that take parameters (multi-value) keep their
// check inline instead of being wrapped: correct, slower. wazero v1.12.0's amd64
// compiler miscompiles some float selects (wazero issue 2534, fixed after the release);
// metered code, having more register pressure, meets that bug more often.
package meter

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Names the metering reserves in a metered module. An input that already uses them is
// refused with ErrReservedName.
const (
	// ImportModule is the import module of the host functions; HostModule instantiates it.
	ImportModule = "agentnet_meter"
	// YieldFunc is called about every yield interval; it checks the call's context.
	YieldFunc = "yield"
	// OutOfFuelFunc is called when the budget is spent; it aborts with ErrOutOfFuel.
	OutOfFuelFunc = "out_of_fuel"
	// FuelExport is the exported mutable i64 global holding the fuel left before the
	// next yield point.
	FuelExport = "agentnet_meter.fuel"
	// ReserveExport is the exported mutable i64 global holding the rest of the fuel.
	ReserveExport = "agentnet_meter.reserve"

	reservedPrefix = ImportModule + "."
)

const (
	// Version identifies the rewriting scheme and the cost table. It changes whenever
	// the output or the fuel count for a given input changes, and is part of CacheKey.
	Version = 2

	// MaxFuel is the largest budget Gauge.Set accepts (2^62), far beyond any run, and
	// small enough that the fuel arithmetic of the guest never overflows.
	MaxFuel = 1 << 62

	// DefaultYieldInterval is the fuel between two calls of agentnet_meter.yield:
	// 1-4 ms of guest work (guests burn 4-20 million units per millisecond on the
	// development machine), within the 10 ms time slice after which Go preempts a
	// goroutine. A yield is dear: its runtime.Gosched wakes an idle processor, 10-30
	// µs in a VM, so at 2^20 units the yields alone cost a recursive fib 15%.
	DefaultYieldInterval = 1 << 24

	// DefaultStartFuel is the budget a module instance has before Gauge.Set, which a
	// start section draws on during instantiation (about 10 ms of guest work).
	DefaultStartFuel = 10_000_000

	// DefaultMaxModuleSize is the default cap on the input size (32 MiB).
	DefaultMaxModuleSize = 32 << 20
)

// config is what the options set.
type config struct {
	yieldInterval uint64
	startFuel     uint64
	maxSize       int
}

// Option configures Instrument and CacheKey.
type Option func(*config)

// WithYieldInterval sets the fuel between two yield calls, in [1, MaxFuel]. Smaller
// values honour deadlines sooner and cost a host call more often.
func WithYieldInterval(units uint64) Option {
	return func(c *config) { c.yieldInterval = units }
}

// WithStartFuel sets the budget of a fresh instance, in [0, MaxFuel]: what a start
// section may spend during instantiation, before the host can call Gauge.Set.
func WithStartFuel(units uint64) Option {
	return func(c *config) { c.startFuel = units }
}

// WithMaxModuleSize caps the input size in bytes; the output may be up to four times as
// large. It guards the memory Instrument uses on hostile input.
func WithMaxModuleSize(bytes int) Option {
	return func(c *config) { c.maxSize = bytes }
}

func newConfig(opts []Option) (config, error) {
	c := config{yieldInterval: DefaultYieldInterval, startFuel: DefaultStartFuel, maxSize: DefaultMaxModuleSize}
	for _, o := range opts {
		o(&c)
	}
	if c.yieldInterval < 1 || c.yieldInterval > MaxFuel {
		return c, fmt.Errorf("meter: yield interval %d not in [1, %d]: %w", c.yieldInterval, uint64(MaxFuel), ErrFuelRange)
	}
	if c.startFuel > MaxFuel {
		return c, fmt.Errorf("meter: start fuel %d above %d: %w", c.startFuel, uint64(MaxFuel), ErrFuelRange)
	}
	if c.maxSize <= 0 {
		return c, fmt.Errorf("meter: max module size %d is not positive: %w", c.maxSize, ErrTooLarge)
	}
	return c, nil
}

// Instrument returns a metered copy of the WebAssembly binary wasm (see the package doc).
// It is a pure function: the same input and options give the same bytes, so callers may
// cache the result under CacheKey. Errors: ErrTooLarge, ErrMalformed, ErrUnsupported,
// ErrReservedName, ErrInvalid (wazero rejects the input), ErrFuelRange for bad options.
func Instrument(wasm []byte, opts ...Option) ([]byte, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if len(wasm) > cfg.maxSize {
		return nil, fmt.Errorf("meter: input of %d bytes above the cap of %d: %w", len(wasm), cfg.maxSize, ErrTooLarge)
	}
	m, err := splitSections(wasm)
	if err != nil {
		return nil, fmt.Errorf("meter: rewrite module: %w", err)
	}
	out, err := rewrite(m, len(wasm), cfg)
	if err != nil {
		return nil, fmt.Errorf("meter: rewrite module: %w", err)
	}
	if err := validate(out); err != nil {
		// Tell an invalid input from a defect of the rewrite. The input goes to wazero
		// only now that every vector length in it has been bounded by its size (wazero
		// allocates by declared counts), and without the custom sections, which are
		// not copied and whose name section wazero would decode unbounded.
		if inErr := validate(m.stripped); inErr != nil {
			return nil, fmt.Errorf("meter: validate input: %w: %v", ErrInvalid, inErr)
		}
		return nil, fmt.Errorf("%w: %v", ErrRewrite, err)
	}
	return out, nil
}

// rewrite produces the metered module from the split input without validating it.
func rewrite(m *module, size int, cfg config) ([]byte, error) {
	var err error
	p, err := newPlan(m, cfg)
	if err != nil {
		return nil, err
	}
	codeCount := 0
	if m.present[secCode] {
		r := &reader{b: m.sections[secCode]}
		if codeCount, err = r.count(2); err != nil {
			return nil, fmt.Errorf("code section: %w", err)
		}
	}
	if codeCount != len(p.funcTypes) {
		return nil, fmt.Errorf("%d function types but %d bodies: %w", len(p.funcTypes), codeCount, ErrMalformed)
	}

	limit := 4 * cfg.maxSize
	out := make([]byte, 0, size+size/2+256)
	out = append(out, wasmHeader...)
	out = appendSection(out, secType, p.rewriteTypes(m.sections[secType]))
	out = appendSection(out, secImport, p.rewriteImports())
	out = appendSection(out, secFunction, p.rewriteFunctions())
	for _, id := range []byte{secTable, secMemory} {
		if m.present[id] {
			out = appendSection(out, id, m.sections[id])
		}
	}
	globals, err := p.rewriteGlobals(m.sections[secGlobal])
	if err != nil {
		return nil, err
	}
	out = appendSection(out, secGlobal, globals)
	exports, err := p.rewriteExports(m.sections[secExport])
	if err != nil {
		return nil, err
	}
	out = appendSection(out, secExport, exports)
	if m.present[secStart] {
		start, err := p.rewriteStart(m.sections[secStart])
		if err != nil {
			return nil, err
		}
		out = appendSection(out, secStart, start)
	}
	if m.present[secElement] {
		elems, err := p.rewriteElements(m.sections[secElement])
		if err != nil {
			return nil, err
		}
		out = appendSection(out, secElement, elems)
	}
	if m.present[secDataCount] {
		out = appendSection(out, secDataCount, m.sections[secDataCount])
	}
	code, err := p.rewriteCode(m.sections[secCode], limit)
	if err != nil {
		return nil, err
	}
	out = appendSection(out, secCode, code)
	if m.present[secData] {
		out = appendSection(out, secData, m.sections[secData])
	}
	if m.hasNames {
		if names := p.rewriteNames(m.names); names != nil {
			payload := appendName(nil, "name")
			out = appendSection(out, secCustom, append(payload, names...))
		}
	}
	if len(out) > limit {
		return nil, fmt.Errorf("output of %d bytes above %d: %w", len(out), limit, ErrTooLarge)
	}
	return out, nil
}

// rewriteCode rewrites every function body and appends the helper functions.
func (p *plan) rewriteCode(payload []byte, limit int) ([]byte, error) {
	out := appendU32(make([]byte, 0, len(payload)+len(payload)/2+128), uint32(len(p.funcTypes))+addedHelpers)
	w := &funcRewriter{p: p}
	if len(p.funcTypes) > 0 {
		r := &reader{b: payload}
		if _, err := r.u32(); err != nil {
			return nil, err
		}
		for i, typ := range p.funcTypes {
			size, err := r.u32()
			if err != nil {
				return nil, fmt.Errorf("function %d: %w", int(p.numFuncImp)+i, err)
			}
			body, err := r.bytes(int(size))
			if err != nil {
				return nil, fmt.Errorf("function %d: %w", int(p.numFuncImp)+i, err)
			}
			if out, err = w.rewrite(out, body, typ); err != nil {
				return nil, fmt.Errorf("function %d: %w", int(p.numFuncImp)+i, err)
			}
			if len(out) > limit {
				return nil, fmt.Errorf("code section above %d bytes: %w", limit, ErrTooLarge)
			}
		}
		if r.len() != 0 {
			return nil, fmt.Errorf("code section: %d trailing bytes: %w", r.len(), ErrMalformed)
		}
	}
	return p.appendHelpers(out), nil
}

// CacheKey returns the key under which to cache the output of Instrument for a module
// whose SHA-256 is moduleSHA256: it covers Version and every option that changes the
// output, so a cache never serves a module metered differently.
func CacheKey(moduleSHA256 [sha256.Size]byte, opts ...Option) ([sha256.Size]byte, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	h := sha256.New()
	h.Write([]byte("agentnet/meter/v1"))
	var b [24]byte
	binary.BigEndian.PutUint64(b[0:], Version)
	binary.BigEndian.PutUint64(b[8:], cfg.yieldInterval)
	binary.BigEndian.PutUint64(b[16:], cfg.startFuel)
	h.Write(b[:])
	h.Write(moduleSHA256[:])
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key, nil
}
