package meter

import "errors"

var (
	// ErrOutOfFuel is returned (wrapped in wazero's call error) when a metered guest has
	// spent all of its fuel. The host function agentnet_meter.out_of_fuel panics with it,
	// so errors.Is tells an exhausted budget apart from a guest trap such as unreachable.
	ErrOutOfFuel = errors.New("meter: out of fuel")

	// ErrMalformed is returned when the input is not a well-formed WebAssembly binary:
	// truncated, a bad LEB128, sections out of order, an index out of range.
	ErrMalformed = errors.New("meter: malformed module")

	// ErrUnsupported is returned when the input uses an opcode, type or encoding outside
	// wazero's api.CoreFeaturesV2 (threads, tail calls, exceptions, GC, memory64, ...).
	ErrUnsupported = errors.New("meter: unsupported feature")

	// ErrTooLarge is returned when the input exceeds the size cap of WithMaxModuleSize or
	// the metered output would exceed four times that cap.
	ErrTooLarge = errors.New("meter: module too large")

	// ErrReservedName is returned when the input already imports from agentnet_meter or
	// exports a name starting with "agentnet_meter.", names the metering owns (this also
	// refuses to meter a module twice).
	ErrReservedName = errors.New("meter: reserved name in use")

	// ErrInvalid is returned when wazero rejects the input module (it fails validation
	// under api.CoreFeaturesV2), so there is nothing sound to meter.
	ErrInvalid = errors.New("meter: invalid module")

	// ErrRewrite is returned when wazero rejects the rewritten module although it accepts
	// the input: a defect of this package, never of the guest.
	ErrRewrite = errors.New("meter: rewritten module rejected")

	// ErrNotMetered is returned by NewGauge when a module lacks the exported fuel globals,
	// that is, when it was not produced by Instrument.
	ErrNotMetered = errors.New("meter: module is not metered")

	// ErrFuelRange is returned when a fuel amount above MaxFuel is requested.
	ErrFuelRange = errors.New("meter: fuel out of range")
)
