package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
)

// startFunction is the export a WASI command runs.
const startFunction = "_start"

// Module is a compiled, admitted WebAssembly module: valid, a WASI command, importing
// only what the node provides. Get one from [Executor.Compile]; it may be run any number
// of times, concurrently, until the executor's cache evicts it.
type Module struct {
	exec     *Executor
	compiled wazero.CompiledModule
	hash     [sha256.Size]byte
	size     int
	// refs is 1 while the module is in the executor's cache plus 1 per run using it;
	// the compiled code is released when it drops to 0, and a module at 0 never runs again.
	refs atomic.Int64
}

// Hash returns the SHA-256 of the module's bytes as given to Compile, not of its metered
// form: the key under which it is cached and the identity cards and commitments bind.
func (m *Module) Hash() [32]byte { return m.hash }

// Size returns the length of the module's bytes.
func (m *Module) Size() int { return m.size }

// acquire takes a reference for a run; it fails once the module has been released.
func (m *Module) acquire() bool {
	for {
		n := m.refs.Load()
		if n <= 0 {
			return false
		}
		if m.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference and frees the compiled code with the last one.
func (m *Module) release() {
	if m.refs.Add(-1) == 0 {
		if err := m.compiled.Close(context.Background()); err != nil {
			m.exec.log.Error("release compiled wasm module", "module", shortHash(m.hash), "err", err)
		}
	}
}

// compileCall lets concurrent Compile calls for the same bytes share one compilation.
type compileCall struct {
	done chan struct{}
	m    *Module
	err  error
}

// Cached returns the compiled module of the bytes whose SHA-256 is hash, when the
// executor holds it. Compile hashes its input on every call; a caller that already knows
// its module's hash (the agent store, for every agent request) looks it up here first and
// compiles only on a miss. A wrong hash finds nothing or the module of other bytes, never
// a module filed under a hash that is not its own.
func (e *Executor) Cached(hash [32]byte) (*Module, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.modules.Get(hash)
}

// Compile admits a module: it checks the size cap (ErrModuleTooLarge), hashes the bytes
// and returns the cached Module for that hash at once if there is one. Otherwise, holding
// a slot (Config.MaxConcurrent), it scans the binary's structure, meters it (package
// meter; the metered form is read from and kept in Config.CacheDir when set), compiles
// the metered module to machine code (reading Config.CacheDir when set) and checks that
// it is a WASI command importing only functions this node provides; anything else is
// ErrInvalidModule with a one-line reason. The Module's Hash stays the SHA-256 of the
// bytes given, which cards and commitments name.
//
// The scan refuses encodings beyond WebAssembly 2.0 and modules over the limits browsers
// agree on (1,000,000 functions, 50,000 locals per function, ...), and gives every table
// without a maximum the maximum 1,048,576 elements, as the memory limit does for
// memories. Compilation itself is not interruptible; ctx bounds the waits for a slot and
// for a concurrent compilation of the same bytes.
func (e *Executor) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	if len(wasm) > e.cfg.MaxModuleBytes {
		return nil, fmt.Errorf("compile module: %w: %d bytes, over the limit of %d",
			ErrModuleTooLarge, len(wasm), e.cfg.MaxModuleBytes)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("compile module: %w", err)
	}
	if err := e.enter(); err != nil {
		return nil, fmt.Errorf("compile module: %w", err)
	}
	defer e.leave()

	hash := sha256.Sum256(wasm)
	for {
		e.mu.Lock()
		if m, ok := e.modules.Get(hash); ok {
			e.mu.Unlock()
			return m, nil
		}
		c, ok := e.compiling[hash]
		if !ok {
			break // with e.mu held: this call compiles
		}
		e.mu.Unlock()
		select {
		case <-c.done:
			// The compiling call's own context may have ended its wait for a slot:
			// that says nothing about these bytes, so try again.
			if c.err != nil && isContextErr(c.err) && ctx.Err() == nil {
				continue
			}
			return c.m, c.err
		case <-ctx.Done():
			return nil, fmt.Errorf("compile module: wait for a concurrent compilation: %w", ctx.Err())
		case <-e.life.Done():
			return nil, fmt.Errorf("compile module: %w", ErrClosed)
		}
	}
	c := &compileCall{done: make(chan struct{})}
	e.compiling[hash] = c
	e.mu.Unlock()

	m, err := e.compile(ctx, hash, wasm)

	e.mu.Lock()
	delete(e.compiling, hash)
	if err == nil {
		e.modules.Add(hash, m)
	}
	evicted := e.evicted
	e.evicted = nil
	e.mu.Unlock()
	c.m, c.err = m, err
	close(c.done)

	for _, old := range evicted {
		e.log.Debug("evict compiled wasm module", "module", shortHash(old.hash))
		old.release()
	}
	return m, err
}

// compile turns admitted bytes into a Module with one reference (the cache's). It holds
// a slot (Config.MaxConcurrent) while it works: compiling is the most CPU- and
// memory-hungry thing a request can cause.
func (e *Executor) compile(ctx context.Context, hash [sha256.Size]byte, wasm []byte) (m *Module, err error) {
	if err := e.acquireSlot(ctx); err != nil {
		return nil, fmt.Errorf("compile module: %w", err)
	}
	defer e.releaseSlot()
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("wasm compile panicked", "module", shortHash(hash), "panic", r)
			m, err = nil, fmt.Errorf("compile module: %w: %v", ErrInternal, r)
		}
	}()
	start := time.Now()
	// wazero's decoder trusts the counts in a module; scan them first (scan.go).
	sc, err := scanModule(wasm)
	if err != nil {
		return nil, fmt.Errorf("compile module: %w: %s", ErrInvalidModule, oneLine(err.Error()))
	}
	// Refuse unknown imports before the costly steps; signatures are checked on the
	// compiled module (admit).
	if err := e.checkImportNames(sc.imports); err != nil {
		return nil, fmt.Errorf("compile module: %w: %w", ErrInvalidModule, err)
	}
	// The meter bounds every count again, so wazero decodes only what it wrote.
	metered, err := e.instrument(hash, sc.wasm)
	if err != nil {
		return nil, fmt.Errorf("compile module: %w", err)
	}
	cctx := experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
	compiled, err := e.runtime.CompileModule(cctx, metered)
	if err != nil {
		return nil, fmt.Errorf("compile module: %w: %s", ErrInvalidModule, oneLine(err.Error()))
	}
	if err := e.admit(compiled); err != nil {
		_ = compiled.Close(ctx)
		return nil, fmt.Errorf("compile module: %w: %w", ErrInvalidModule, err)
	}
	m = &Module{exec: e, compiled: compiled, hash: hash, size: len(wasm)}
	m.refs.Store(1)
	e.log.Debug("compiled wasm module", "module", shortHash(hash), "bytes", len(wasm), "took", time.Since(start))
	return m, nil
}

// checkImportNames checks the imports a scan found: functions this node provides, by
// name. A module of its own importing agentnet_meter is refused later, by the meter,
// which reserves that name.
func (e *Executor) checkImportNames(imports []importEntry) error {
	for _, imp := range imports {
		if imp.kind != kindFunc {
			return fmt.Errorf("imports %s %s.%s, which this node does not provide (only functions can be imported)",
				imp.kind, printable(imp.module), printable(imp.name))
		}
		if _, ok := e.provided[imp.module][imp.name]; !ok && imp.module != meter.ImportModule {
			return fmt.Errorf("imports %s.%s, which this node does not provide", printable(imp.module), printable(imp.name))
		}
	}
	return nil
}

// admit checks that a compiled (metered) module imports only functions this node
// provides, with their exact signatures, and exports a WASI _start.
func (e *Executor) admit(compiled wazero.CompiledModule) error {
	for _, def := range compiled.ImportedFunctions() {
		module, name, _ := def.Import()
		have, ok := e.provided[module][name]
		if !ok {
			return fmt.Errorf("imports %s.%s, which this node does not provide", printable(module), printable(name))
		}
		if !sameSignature(def, have) {
			return fmt.Errorf("imports %s.%s as %s, but this node provides %s",
				printable(module), printable(name), signature(def), signature(have))
		}
	}
	start, ok := compiled.ExportedFunctions()[startFunction]
	if !ok {
		return fmt.Errorf("exports no %s function, so it is not a WASI command", startFunction)
	}
	if len(start.ParamTypes()) != 0 || len(start.ResultTypes()) != 0 {
		return fmt.Errorf("exports %s as %s, but a WASI command's %s takes and returns nothing",
			startFunction, signature(start), startFunction)
	}
	return nil
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func sameSignature(a, b api.FunctionDefinition) bool {
	return slices.Equal(a.ParamTypes(), b.ParamTypes()) && slices.Equal(a.ResultTypes(), b.ResultTypes())
}

// signature formats a function type as "(i32, i32) -> i32".
func signature(def api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	results := names(def.ResultTypes())
	if len(def.ResultTypes()) != 1 {
		results = "(" + results + ")"
	}
	return "(" + names(def.ParamTypes()) + ") -> " + results
}

// printable returns a name from a guest module as it may appear in an error: short
// plain names as they are, anything else quoted and cut, so a module cannot put line
// breaks or megabytes into messages and logs.
func printable(s string) string {
	const maxLen = 64
	plain := len(s) > 0 && len(s) <= maxLen
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-.:/@$", c) >= 0) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	if len(s) > maxLen {
		return fmt.Sprintf("%q...", s[:maxLen])
	}
	return fmt.Sprintf("%q", s)
}

// oneLine returns the first line of a wazero message.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// shortHash is the prefix of a module hash used in logs.
func shortHash(h [sha256.Size]byte) string { return hex.EncodeToString(h[:8]) }
