package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

func TestCompileCacheHit(t *testing.T) {
	e := newExecutor(t, Config{})
	m1 := mustCompile(t, e, wasmtest.Hello)
	if m1.Hash() != sha256.Sum256(wasmtest.Hello) || m1.Size() != len(wasmtest.Hello) {
		t.Fatalf("Hash %x Size %d", m1.Hash(), m1.Size())
	}
	m2 := mustCompile(t, e, append([]byte(nil), wasmtest.Hello...))
	if m1 != m2 {
		t.Fatal("second Compile of the same bytes compiled again")
	}
	if e.modules.Len() != 1 {
		t.Fatalf("%d cached modules, want 1", e.modules.Len())
	}
	if m, ok := e.Cached(sha256.Sum256(wasmtest.Hello)); !ok || m != m1 {
		t.Fatalf("Cached(hash of Hello) = %v, %v; want the compiled module", m, ok)
	}
	if _, ok := e.Cached(sha256.Sum256(wasmtest.EchoArgs)); ok {
		t.Fatal("Cached found a module that was never compiled")
	}
}

func TestConcurrentCompileOfOneModuleCompilesOnce(t *testing.T) {
	e := newExecutor(t, Config{})
	wasm := wasmtest.ManyFuncs(300)
	const callers = 6
	mods := make([]*Module, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			m, err := e.Compile(context.Background(), wasm)
			if err != nil {
				t.Errorf("Compile: %v", err)
			}
			mods[i] = m
		})
	}
	wg.Wait()
	for _, m := range mods[1:] {
		if m != mods[0] {
			t.Fatal("concurrent Compile calls of one module returned different modules")
		}
	}
}

func TestCompileEviction(t *testing.T) {
	e := newExecutor(t, Config{CompiledModules: 2, Timeout: 200 * time.Millisecond})
	// Distinct valid modules: Hello with paddings of different sizes.
	a := mustCompile(t, e, wasmtest.Oversized(1000))
	loop := mustCompile(t, e, wasmtest.InfiniteLoop)

	// A run holds loop while it is evicted: it must finish normally.
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(context.Background(), loop, Input{})
		done <- err
	}()
	waitFor(t, func() bool { return loop.refs.Load() == 2 }) // the cache and the run hold loop

	mustCompile(t, e, wasmtest.Oversized(2000)) // evicts a (least recently used)
	mustCompile(t, e, wasmtest.Oversized(3000)) // evicts loop, still running
	if _, err := e.Run(context.Background(), a, Input{}); !errors.Is(err, ErrModuleEvicted) {
		t.Fatalf("Run of an evicted module: %v, want ErrModuleEvicted", err)
	}
	if _, ok := e.Cached(a.Hash()); ok {
		t.Fatal("Cached found an evicted module")
	}
	if err := <-done; !errors.Is(err, ErrTimeout) {
		t.Fatalf("run of a module evicted under it: %v, want ErrTimeout", err)
	}
	if loop.refs.Load() != 0 {
		t.Fatalf("evicted module still has %d references after its run", loop.refs.Load())
	}
	if _, err := e.Run(context.Background(), loop, Input{}); !errors.Is(err, ErrModuleEvicted) {
		t.Fatalf("Run after release: %v, want ErrModuleEvicted", err)
	}

	// Compiling again gives a fresh, runnable module.
	a2 := mustCompile(t, e, wasmtest.Oversized(1000))
	if a2 == a {
		t.Fatal("Compile returned the evicted module")
	}
	if res, err := e.Run(context.Background(), a2, Input{}); err != nil || string(res.Stdout) != "hello\n" {
		t.Fatalf("Run of recompiled module: %+v, %v", res, err)
	}
}

func TestCacheDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	wasm := wasmtest.ManyFuncs(3000)
	compileTime := func() time.Duration {
		t.Helper()
		e, err := New(context.Background(), Config{CacheDir: dir})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		defer e.Close(context.Background())
		start := time.Now()
		m := mustCompile(t, e, wasm)
		took := time.Since(start)
		if res, err := e.Run(context.Background(), m, Input{}); err != nil || res.ExitCode != 0 {
			t.Fatalf("Run: %+v, %v", res, err)
		}
		return took
	}
	cold := compileTime()

	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir: %v, mode %v, want 0700", err, st.Mode())
	}
	files, err := filepath.Glob(filepath.Join(dir, "wazero-*", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no compiled code in %s (%v)", dir, err)
	}

	warm := compileTime()
	t.Logf("cold compile %v, from disk %v", cold, warm)
	if warm >= cold {
		t.Fatalf("compile from the disk cache took %v, not faster than the cold %v", warm, cold)
	}
}

func TestCacheDirRejected(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{"readable by others": open, "a file": file, "under a file": filepath.Join(file, "x")} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(context.Background(), Config{CacheDir: dir}); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New: %v, want ErrInvalidConfig", err)
			}
		})
	}
	if st, _ := os.Stat(open); st.Mode().Perm() != 0o755 {
		t.Fatalf("a rejected dir was changed to %v", st.Mode())
	}
}

func TestCompileHonoursContext(t *testing.T) {
	e := newExecutor(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Compile(ctx, wasmtest.Hello); !errors.Is(err, context.Canceled) {
		t.Fatalf("Compile: %v, want context.Canceled", err)
	}
}

// FuzzCompile feeds arbitrary bytes to Compile, and runs what compiles: nothing may
// panic, Compile fails only with ErrInvalidModule or ErrModuleTooLarge, and Run only with
// the executor's documented errors. Every module that compiles was metered, so this also
// fuzzes the meter's rewrite as admission uses it (ErrInternal would be a rewrite
// defect).
func FuzzCompile(f *testing.F) {
	for _, wasm := range [][]byte{
		wasmtest.Hello, wasmtest.EchoArgs, wasmtest.Cat, wasmtest.Exit, wasmtest.Random,
		wasmtest.InfiniteLoop, wasmtest.MemoryGrow, wasmtest.HugeStdout, wasmtest.DumpMemory,
		wasmtest.UnknownImport, wasmtest.OpenFile, wasmtest.NoStart, wasmtest.HostCall,
		wasmtest.BadSignature, wasmtest.ImportsGlobal, wasmtest.Empty, wasmtest.Truncated,
		wasmtest.ManyFuncs(3), memoryMinModule(1), []byte("\x00asm"), []byte("\x00asm\x01\x00\x00\x00"),
	} {
		f.Add(wasm)
	}
	e := newExecutor(f, Config{MaxModuleBytes: 64 << 10, MemoryPages: 16, Timeout: 50 * time.Millisecond, MaxOutputBytes: 4096, Fuel: 10_000_000})
	f.Fuzz(func(t *testing.T, wasm []byte) {
		m, err := e.Compile(context.Background(), wasm)
		if err != nil {
			if !errors.Is(err, ErrInvalidModule) && !errors.Is(err, ErrModuleTooLarge) {
				t.Fatalf("Compile: unexpected error %v", err)
			}
			return
		}
		res, err := e.Run(context.Background(), m, Input{Args: []string{"1"}, Stdin: []byte("in")})
		if err != nil {
			var trap *TrapError
			if !errors.As(err, &trap) && !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrOutOfFuel) &&
				!errors.Is(err, ErrOutputTooLarge) && !errors.Is(err, ErrModuleEvicted) {
				t.Fatalf("Run: unexpected error %v", err)
			}
			if res == nil && !errors.Is(err, ErrModuleEvicted) {
				t.Fatal("guest failure without a partial result")
			}
		}
	})
}

// TestCompileWaiterOutlivesLeader: when the call compiling a module gives up (its context
// ends while it waits for a slot), a concurrent Compile of the same bytes takes over
// instead of failing with the other caller's error.
func TestCompileWaiterOutlivesLeader(t *testing.T) {
	release := make(chan struct{})
	host := &testHost{name: "test_host", answer: func(context.Context) uint32 { <-release; return 0 }}
	e := newExecutor(t, Config{MaxConcurrent: 1, HostModules: []HostModule{host}})
	busy := mustCompile(t, e, wasmtest.HostCall)
	ran := make(chan error, 1)
	go func() {
		_, err := e.Run(context.Background(), busy, Input{})
		ran <- err
	}()
	waitFor(t, func() bool { return len(e.sem) == 1 })

	leaderCtx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	leader := make(chan error, 1)
	go func() {
		_, err := e.Compile(leaderCtx, wasmtest.Cat)
		leader <- err
	}()
	waitFor(t, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.compiling) == 1
	})
	follower := make(chan error, 1)
	go func() {
		_, err := e.Compile(context.Background(), wasmtest.Cat)
		follower <- err
	}()

	if err := <-leader; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("leader: %v, want its deadline", err)
	}
	close(release)
	if err := <-follower; err != nil {
		t.Fatalf("follower: %v, want a compiled module", err)
	}
	if err := <-ran; err != nil {
		t.Fatalf("run: %v", err)
	}
}
