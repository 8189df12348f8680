// Package agentnet is the agent-to-agent ABI: the host module "agentnet" through which a
// WebAssembly agent searches the network for other agents, calls one (paying it under the
// node's payer policy and the agent's budget) and reads the verified result.
//
// The ABI is made for guests in any language: parameters are plain i32 and i64, strings
// and bytes are (pointer, length) pairs in the guest's memory, results go into buffers
// the guest provides, and every function returns a non-negative value on success and a
// negative code on failure (-1 bad argument, -2 not found, -3 denied, -4 depth limit,
// -5 remote error, -6 timeout, -7 buffer too small, -8 unavailable, -9 per-run limit).
// A search or call returns a handle to its result, kept in the run's handle table until
// the guest closes it or the run ends. docs/abi.md documents every function.
//
// Calls are asynchronous to the network but synchronous to the guest: the host function
// blocks on the node's [Network] under the run's context, so the guest's deadline keeps
// counting, and hands the executor slot back while it waits ([wasm.Blocking]). The state
// of a run (the calling agent, its call depth, its budget and what it spent) rides in the
// run's context ([WithRun]); the node sets it when it runs one of its deployed agents.
// Nothing a guest passes can trap the node: bad pointers, lengths and handles are codes.
package agentnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// ModuleName is the import module name guests use.
const ModuleName = "agentnet"

// Defaults of [Config]; a zero field takes its default.
const (
	DefaultMaxDepth         = 3
	DefaultMaxCallsPerRun   = 16
	DefaultMaxHandles       = 64
	DefaultMaxHeldBytes     = 8 << 20
	DefaultMaxInputBytes    = 1 << 20
	DefaultMaxSearchResults = 20
	DefaultSearchResults    = 5
)

// Limits of the guest's arguments.
const (
	// MaxQueryBytes caps a search query or a call_best description.
	MaxQueryBytes = 1024
	// MaxErrorBytes caps the last-error message a guest can read.
	MaxErrorBytes = 1024
	// MaxDepthLimit is the highest Config.MaxDepth.
	MaxDepthLimit = 16
)

// Config configures the host module. The zero value is usable: no network (every call
// is ErrUnavailable) and the defaults below.
type Config struct {
	// Network searches and calls; nil makes every search and call ErrUnavailable.
	Network Network
	// MaxDepth is how deeply agent-to-agent calls may nest: a user's call runs at depth
	// 0, and an agent at depth MaxDepth may not call. Default 3, at most 16.
	MaxDepth int
	// MaxCallsPerRun bounds the searches and calls of one run. Default 16.
	MaxCallsPerRun int
	// MaxHandles bounds the open handles of one run. Default 64.
	MaxHandles int
	// MaxHeldBytes bounds the result bytes one run's open handles hold. Default 8 MiB.
	MaxHeldBytes int
	// MaxInputBytes caps a call's input. Default 1 MiB.
	MaxInputBytes int
	// MaxSearchResults caps a search's limit. Default 20.
	MaxSearchResults int
	// Logger receives one debug line per search and call (caller, target, code, time);
	// never inputs or outputs. Default: discard.
	Logger *slog.Logger
}

// Module is the "agentnet" host module, a wasm.HostModule: pass it in the executor's
// Config.HostModules.
type Module struct {
	cfg Config
	log *slog.Logger
}

// New returns the host module for cfg. A field out of range is an error.
func New(cfg Config) (*Module, error) {
	if cfg.MaxDepth == 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.MaxCallsPerRun == 0 {
		cfg.MaxCallsPerRun = DefaultMaxCallsPerRun
	}
	if cfg.MaxHandles == 0 {
		cfg.MaxHandles = DefaultMaxHandles
	}
	if cfg.MaxHeldBytes == 0 {
		cfg.MaxHeldBytes = DefaultMaxHeldBytes
	}
	if cfg.MaxInputBytes == 0 {
		cfg.MaxInputBytes = DefaultMaxInputBytes
	}
	if cfg.MaxSearchResults == 0 {
		cfg.MaxSearchResults = DefaultMaxSearchResults
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.MaxDepth < 0 || cfg.MaxDepth > MaxDepthLimit:
		return nil, fmt.Errorf("agentnet config: MaxDepth %d: want 1 to %d", cfg.MaxDepth, MaxDepthLimit)
	case cfg.MaxCallsPerRun < 0, cfg.MaxHandles < 0, cfg.MaxHeldBytes < 0, cfg.MaxInputBytes < 0, cfg.MaxSearchResults < 0:
		return nil, errors.New("agentnet config: negative limit")
	}
	return &Module{cfg: cfg, log: cfg.Logger}, nil
}

// Name returns ModuleName.
func (m *Module) Name() string { return ModuleName }

// MaxDepth returns the depth limit in force.
func (m *Module) MaxDepth() int { return m.cfg.MaxDepth }

// Instantiate defines the ABI's functions in r (wasm.HostModule).
func (m *Module) Instantiate(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(ModuleName)
	for _, f := range m.functions() {
		b = b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results).
			WithParameterNames(f.names...).Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate %s: %w", ModuleName, err)
	}
	return nil
}

// hostFunc is one exported function.
type hostFunc struct {
	name    string
	names   []string
	params  []api.ValueType
	results []api.ValueType
	fn      api.GoModuleFunc
}
