// Package wasm runs untrusted WebAssembly agents: a wazero executor with a compiled-module
// cache, hard limits and a deterministic sandbox.
//
// An [Executor] compiles WASI preview 1 commands ([Executor.Compile]) and runs them
// ([Executor.Run]) with arguments and stdin in and stdout, stderr and an exit code out.
// A guest sees no file system, environment, network or real clock: the clocks are
// wazero's fake ones and random bytes come from a ChaCha8 stream seeded by the caller, so
// a run is a function of (module, arguments, stdin, seed). Every run is bounded in memory
// pages, fuel, wall-clock time and output size, and a compiled module may run on many
// goroutines at once.
//
// Admission is strict because wazero trusts its input: Compile scans a binary's
// structure before wazero decodes it (wazero sizes its tables from declared counts, so a
// 16-byte module could make it allocate gigabytes) and bounds tables, which the memory
// limit does not cover.
//
// Every module is metered (package [meter]): at admission it is rewritten to count its
// own work in fuel units and to stop itself when its budget ([Config.Fuel],
// [Input.Fuel]) is spent, when its deadline passes or when it is cancelled. A run
// reports the fuel it used ([Result.Fuel]); the count depends only on the module and
// its input (arguments, stdin, seed), so it is billable and part of the result
// commitment. Metering replaces
// wazero's WithCloseOnContextDone, which stops guests by exiting to Go at every loop
// header and made loops up to 100 times slower (docs/metering.md).
//
// The node plugs further host modules in through [Config.HostModules] (the agent-to-agent
// ABI); their names join the import allow-list.
package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
)

// Defaults of [Config]; a zero field takes its default.
const (
	DefaultMemoryPages     = 256             // 16 MiB of linear memory
	DefaultTimeout         = 5 * time.Second // wall clock per run
	DefaultMaxOutputBytes  = 1 << 20         // 1 MiB of stdout
	DefaultMaxStderrBytes  = 4 << 10         // 4 KiB of stderr
	DefaultMaxModuleBytes  = 4 << 20         // 4 MiB module
	DefaultCompiledModules = 64              // compiled modules kept in memory

	// DefaultFuel is the least fuel budget of a run without its own (Input.Fuel): 10^12
	// units. On the project's 2-core machine a guest burns at most about 7 million units
	// per ms (Go-compiled agents 4-7 million, a tight loop about 4 million), so 10^12
	// units take well over two minutes: the deadline (DefaultTimeout), not fuel, bounds
	// a run that sets no budget. A budget is for pricing and for stopping
	// deterministically.
	DefaultFuel = 1_000_000_000_000

	// fuelPerTimeoutMs scales the default budget with a long Timeout, so that the
	// deadline keeps coming first: 10^8 units per ms, over ten times the fastest rate
	// measured.
	fuelPerTimeoutMs = 100_000_000
)

// MaxFuel is the largest fuel budget a Config or Input may set (2^62 units).
const MaxFuel = meter.MaxFuel

// maxMemoryPages is WebAssembly's 4 GiB ceiling for a 32-bit memory; wazero panics above it.
const maxMemoryPages = 65536

// wasiModule is the only import module a guest may use besides Config.HostModules.
const wasiModule = wasi_snapshot_preview1.ModuleName

// Config configures an [Executor]. The zero value is usable: every zero field takes the
// default its doc names.
type Config struct {
	// MemoryPages caps each instance's linear memory, in 64 KiB pages: memory.grow past it
	// returns -1 and a module declaring a larger minimum fails to compile. Default 256
	// (16 MiB); at most 65536 (4 GiB).
	MemoryPages uint32

	// Timeout is the wall-clock budget of one run, counted from the moment it gets a
	// slot (see MaxConcurrent). A shorter deadline on the caller's context wins.
	// Default 5 s.
	Timeout time.Duration

	// MaxOutputBytes caps a run's stdout. The first write past it stops the guest and
	// the run fails with ErrOutputTooLarge. Default 1 MiB.
	MaxOutputBytes int

	// MaxStderrBytes caps a run's stderr; bytes past it are dropped silently (the guest
	// sees successful writes), because stderr is diagnostics, not the result.
	// Default 4 KiB.
	MaxStderrBytes int

	// MaxModuleBytes caps the size of a module given to Compile. Default 4 MiB.
	MaxModuleBytes int

	// MaxConcurrent bounds the runs and compilations executing at once (compiling is
	// the costliest thing a request can cause); further calls wait for a slot as long as
	// their context allows. Cache hits of Compile need no slot. Default 2 × GOMAXPROCS.
	MaxConcurrent int

	// CacheDir, when set, persists compiled machine code across restarts (wazero's file
	// cache, in a per-version subdirectory) and the metered form of every admitted module
	// (in agentnet-meter-v<version>/, keyed by the original's SHA-256), so a restart
	// neither meters nor compiles a module again. It holds executable code protected
	// only by a checksum, so it must be private to the node: it is created with mode
	// 0700 and an existing directory that group or others can access is refused.
	// Default "": compiled code is cached in memory only.
	CacheDir string

	// CompiledModules is how many compiled modules (keyed by SHA-256) stay in memory; the
	// least recently used is released once no run uses it. Default 64.
	CompiledModules int

	// Fuel is the fuel budget of a run whose Input sets none, in the deterministic units
	// of package meter (docs/metering.md has the cost table): a run that spends it fails
	// with ErrOutOfFuel. Default DefaultFuel, or 10^8 units per ms of Timeout when that
	// is more, so that the Timeout comes first; at most MaxFuel.
	Fuel uint64

	// HostModules are instantiated once by New, in order, after WASI and the meter's
	// agentnet_meter module; guests may import the functions they export. Default none.
	HostModules []HostModule

	// Logger receives compile and run events at debug level and internal failures at
	// error level; guest data and arguments are never logged. Default: discard.
	Logger *slog.Logger
}

// withDefaults returns c with every zero field set to its default; it is the one place
// defaults are applied.
func (c Config) withDefaults() Config {
	if c.MemoryPages == 0 {
		c.MemoryPages = DefaultMemoryPages
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxOutputBytes == 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if c.MaxStderrBytes == 0 {
		c.MaxStderrBytes = DefaultMaxStderrBytes
	}
	if c.MaxModuleBytes == 0 {
		c.MaxModuleBytes = DefaultMaxModuleBytes
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	if c.CompiledModules == 0 {
		c.CompiledModules = DefaultCompiledModules
	}
	if c.Fuel == 0 {
		c.Fuel = DefaultFuel
		if ms := c.Timeout.Milliseconds(); ms > 0 && uint64(ms) > DefaultFuel/fuelPerTimeoutMs {
			c.Fuel = min(uint64(ms), MaxFuel/fuelPerTimeoutMs) * fuelPerTimeoutMs
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// validate reports the first out-of-range field of a defaulted Config.
func (c Config) validate() error {
	switch {
	case c.MemoryPages > maxMemoryPages:
		return fmt.Errorf("%w: MemoryPages %d is over WebAssembly's %d", ErrInvalidConfig, c.MemoryPages, maxMemoryPages)
	case c.Timeout < 0:
		return fmt.Errorf("%w: negative Timeout %v", ErrInvalidConfig, c.Timeout)
	case c.MaxOutputBytes < 0:
		return fmt.Errorf("%w: negative MaxOutputBytes %d", ErrInvalidConfig, c.MaxOutputBytes)
	case c.MaxStderrBytes < 0:
		return fmt.Errorf("%w: negative MaxStderrBytes %d", ErrInvalidConfig, c.MaxStderrBytes)
	case c.MaxModuleBytes < 0:
		return fmt.Errorf("%w: negative MaxModuleBytes %d", ErrInvalidConfig, c.MaxModuleBytes)
	case c.MaxConcurrent < 0:
		return fmt.Errorf("%w: negative MaxConcurrent %d", ErrInvalidConfig, c.MaxConcurrent)
	case c.CompiledModules < 0:
		return fmt.Errorf("%w: negative CompiledModules %d", ErrInvalidConfig, c.CompiledModules)
	case c.Fuel > MaxFuel:
		return fmt.Errorf("%w: Fuel %d is over MaxFuel %d", ErrInvalidConfig, c.Fuel, uint64(MaxFuel))
	}
	seen := map[string]bool{wasiModule: true, meter.ImportModule: true}
	for i, h := range c.HostModules {
		if h == nil {
			return fmt.Errorf("%w: HostModules[%d] is nil", ErrInvalidConfig, i)
		}
		name := h.Name()
		if name == "" || seen[name] {
			return fmt.Errorf("%w: HostModules[%d] has an empty or duplicate name %q", ErrInvalidConfig, i, name)
		}
		seen[name] = true
	}
	return nil
}

// HostModule is a module of host functions that guests may import, such as the
// agent-to-agent ABI ("agentnet"). New calls Instantiate once, which must
// instantiate a module called Name in the runtime (typically with
// r.NewHostModuleBuilder(Name())...Instantiate(ctx)); the functions it exports, with
// their signatures, join the import allow-list of Compile.
//
// Host functions run on the guest's goroutine, may be called by many guests at once,
// and receive the run's context: a blocking host function must honour it. To end a
// guest, panic with a *sys.ExitError (as proc_exit does); never close a guest module
// from another goroutine, because its memory returns to a pool when it closes. Views of
// guest memory (api.Memory.Read) must not outlive the host call.
type HostModule interface {
	// Name is the import module name guests use; not empty, not wasi_snapshot_preview1
	// or agentnet_meter, unique within a Config.
	Name() string
	// Instantiate defines and instantiates the module in r.
	Instantiate(ctx context.Context, r wazero.Runtime) error
}

// Executor compiles and runs untrusted WebAssembly under the limits of its [Config]. It
// is safe for concurrent use; Close it to release compiled code and the runtime.
type Executor struct {
	cfg     Config
	log     *slog.Logger
	runtime wazero.Runtime
	cache   wazero.CompilationCache
	// meteredDir holds metered modules under meteredKey, "" without Config.CacheDir.
	meteredDir string
	provided   map[string]map[string]api.FunctionDefinition // import allow-list, immutable
	base       wazero.ModuleConfig                          // immutable per-run defaults
	sem        chan struct{}                                // one token per running guest
	states     sync.Pool                                    // *runState
	memory     memoryPool                                   // guest linear memories

	// life is cancelled by Close: it stops running guests and waiting callers.
	life     context.Context
	stopLife context.CancelFunc

	lifeMu sync.RWMutex
	closed bool
	active sync.WaitGroup // Compile and Run calls in progress

	closeOnce sync.Once
	closeDone chan struct{}
	closeErr  error

	mu        sync.Mutex
	modules   *simplelru.LRU[[sha256.Size]byte, *Module]
	compiling map[[sha256.Size]byte]*compileCall
	evicted   []*Module // filled by the LRU's eviction callback, drained by Compile
}

// New creates an Executor: it sets up the compilation cache, the wazero runtime, WASI and
// cfg.HostModules. A Config field out of range is ErrInvalidConfig; on any error
// everything opened so far is closed again.
func New(ctx context.Context, cfg Config) (*Executor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new executor: %w", err)
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		return nil, fmt.Errorf("new executor: %w: wazero's compiler does not support %s", ErrInvalidConfig, runtime.GOARCH)
	}
	cache, err := newCompilationCache(cfg.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("new executor: %w", err)
	}
	var meteredDir string
	if cfg.CacheDir != "" {
		meteredDir = meteredDirName(cfg.CacheDir)
		if err := os.MkdirAll(meteredDir, 0o700); err != nil {
			return nil, fmt.Errorf("new executor: %w: create metered module dir: %w", ErrInvalidConfig, errors.Join(err, cache.Close(ctx)))
		}
		removeStaleTemps(meteredDir, time.Now())
		removeOldVersions(cfg.CacheDir, meteredDir)
	}
	e := &Executor{
		cfg:        cfg,
		log:        cfg.Logger,
		cache:      cache,
		meteredDir: meteredDir,
		sem:        make(chan struct{}, cfg.MaxConcurrent),
		closeDone:  make(chan struct{}),
		compiling:  make(map[[sha256.Size]byte]*compileCall),
		// No start function: Run calls _start itself once the instance has its fuel.
		base: wazero.NewModuleConfig().WithName("").WithStartFunctions().WithArgs(argv0),
	}
	e.states.New = e.newRunState
	e.life, e.stopLife = context.WithCancel(context.Background())
	e.modules, err = simplelru.NewLRU(cfg.CompiledModules, func(_ [sha256.Size]byte, m *Module) {
		e.evicted = append(e.evicted, m) // called with e.mu held
	})
	if err == nil {
		err = e.startRuntime(ctx)
	}
	if err != nil {
		e.stopLife()
		if e.runtime != nil {
			err = errors.Join(err, e.runtime.Close(ctx))
		}
		return nil, fmt.Errorf("new executor: %w", errors.Join(err, cache.Close(ctx)))
	}
	e.log.Debug("wasm executor ready", "memory_pages", cfg.MemoryPages, "timeout", cfg.Timeout,
		"max_concurrent", cfg.MaxConcurrent, "cache_dir", cfg.CacheDir, "host_modules", len(cfg.HostModules))
	return e, nil
}

// runtimeConfig is the one place the wazero engine is configured. It leaves
// WithCloseOnContextDone off: every module is metered, and a metered guest checks its
// context itself (agentnet_meter.yield) about every meter.DefaultYieldInterval units,
// where wazero's flag would exit to Go at every loop header. No unmetered module ever
// runs, so there is no legacy path that would need the flag.
func runtimeConfig(cfg Config, cache wazero.CompilationCache) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfigCompiler().
		WithCoreFeatures(api.CoreFeaturesV2).
		WithMemoryLimitPages(cfg.MemoryPages).
		WithCloseOnContextDone(false).
		WithDebugInfoEnabled(false).
		WithCustomSections(false).
		WithCompilationCache(cache)
}

// startRuntime creates the runtime, instantiates WASI, the meter's host module and the
// configured host modules, and records what they export as the import allow-list.
func (e *Executor) startRuntime(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil { // wazero panics where executable memory is unavailable
			err = fmt.Errorf("%w: start wazero: %v", ErrInternal, r)
		}
	}()
	e.runtime = wazero.NewRuntimeWithConfig(ctx, runtimeConfig(e.cfg, e.cache))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.runtime); err != nil {
		return fmt.Errorf("instantiate %s: %w", wasiModule, err)
	}
	names := []string{wasiModule}
	hosts := append([]HostModule{meter.NewHostModule()}, e.cfg.HostModules...)
	for _, h := range hosts {
		name := h.Name()
		if err := h.Instantiate(ctx, e.runtime); err != nil {
			return fmt.Errorf("instantiate host module %s: %w", name, err)
		}
		names = append(names, name)
	}
	e.provided = make(map[string]map[string]api.FunctionDefinition, len(names))
	for _, name := range names {
		mod := e.runtime.Module(name)
		if mod == nil {
			return fmt.Errorf("%w: host module %q did not instantiate a module of that name", ErrInvalidConfig, name)
		}
		e.provided[name] = mod.ExportedFunctionDefinitions()
	}
	return nil
}

// newCompilationCache returns an in-memory cache for dir "" and a file-backed one
// otherwise, after making sure dir is private to this user.
func newCompilationCache(dir string) (wazero.CompilationCache, error) {
	if dir == "" {
		return wazero.NewCompilationCache(), nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: create cache dir: %w", ErrInvalidConfig, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: stat cache dir: %w", ErrInvalidConfig, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: cache dir %s is not a directory", ErrInvalidConfig, dir)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: cache dir %s has mode %#o; it holds executable code, so make it private (chmod 700)",
			ErrInvalidConfig, dir, perm)
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: open cache dir: %w", ErrInvalidConfig, err)
	}
	return cache, nil
}

// enter registers a Compile or Run call, so that Close waits for it; it fails once Close
// has begun. Every successful enter is paired with leave.
func (e *Executor) enter() error {
	e.lifeMu.RLock()
	defer e.lifeMu.RUnlock()
	if e.closed {
		return ErrClosed
	}
	e.active.Add(1)
	return nil
}

func (e *Executor) leave() { e.active.Done() }

// Close stops running guests (their runs fail with ErrClosed), waits for calls in
// progress to return, then releases all compiled code, the runtime and the compilation
// cache; files in Config.CacheDir stay. It is idempotent: later calls wait for the same
// shutdown and return its result. ctx bounds only the wait; the shutdown goes on after
// ctx is done.
func (e *Executor) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		e.lifeMu.Lock()
		e.closed = true
		e.lifeMu.Unlock()
		e.stopLife()
		go func() {
			e.active.Wait()
			bg := context.WithoutCancel(ctx)
			e.closeErr = errors.Join(e.runtime.Close(bg), e.cache.Close(bg))
			close(e.closeDone)
			e.log.Debug("wasm executor closed")
		}()
	})
	select {
	case <-e.closeDone:
		if e.closeErr != nil {
			return fmt.Errorf("close executor: %w", e.closeErr)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close executor: wait for calls in progress: %w", ctx.Err())
	}
}
