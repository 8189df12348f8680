package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

func TestRunModules(t *testing.T) {
	e := newExecutor(t, Config{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MiB, over Cat's 4 KiB reads
	tests := []struct {
		name  string
		wasm  []byte
		in    Input
		out   string
		stdin []byte
		exit  uint32
		fuel  uint64 // golden: the cost table of meter.Version 1 over wasmtest's code
	}{
		{name: "hello", wasm: wasmtest.Hello, out: "hello\n", fuel: 10},
		{name: "echo without args", wasm: wasmtest.EchoArgs, out: "\n", fuel: 103},
		{name: "echo args", wasm: wasmtest.EchoArgs, in: Input{Args: []string{"a", "bc", "", "d e", "ünï"}}, out: "a bc  d e ünï\n", fuel: 345},
		{name: "cat", wasm: wasmtest.Cat, in: Input{Stdin: []byte("line\n\x00\xff")}, out: "line\n\x00\xff", fuel: 103},
		{name: "cat empty stdin", wasm: wasmtest.Cat, fuel: 21},
		{name: "exit 3", wasm: wasmtest.Exit, in: Input{Args: []string{"3"}}, exit: 3, fuel: 90},
		{name: "exit without arg", wasm: wasmtest.Exit, fuel: 16},
		{name: "exit 255", wasm: wasmtest.Exit, in: Input{Args: []string{"255"}}, exit: 255, fuel: 140},
		// wazero's reserved codes for cancel and deadline, set by the guest itself: a
		// result, not a timeout.
		{name: "exit with deadline code", wasm: wasmtest.Exit, in: Input{Args: []string{"4026531839"}}, exit: 0xefffffff, fuel: 315},
		{name: "exit with cancel code", wasm: wasmtest.Exit, in: Input{Args: []string{"4294967295"}}, exit: 0xffffffff, fuel: 315},
		{name: "open file is refused", wasm: wasmtest.OpenFile, exit: 8, fuel: 23}, // EBADF: there is no fd 3
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustCompile(t, e, tt.wasm)
			res, err := e.Run(context.Background(), m, tt.in)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if string(res.Stdout) != tt.out || res.ExitCode != tt.exit {
				t.Fatalf("stdout %q exit %d, want %q exit %d", res.Stdout, res.ExitCode, tt.out, tt.exit)
			}
			if res.Duration <= 0 || res.Fuel != tt.fuel {
				t.Fatalf("Duration %v Fuel %d, want fuel %d", res.Duration, res.Fuel, tt.fuel)
			}
		})
	}
	t.Run("cat large", func(t *testing.T) {
		e := newExecutor(t, Config{MaxOutputBytes: 4 << 20})
		res, err := e.Run(context.Background(), mustCompile(t, e, wasmtest.Cat), Input{Stdin: big})
		if err != nil || !bytes.Equal(res.Stdout, big) {
			t.Fatalf("err %v, %d bytes out of %d", err, len(res.Stdout), len(big))
		}
	})
}

func TestHostileModules(t *testing.T) {
	const pages = 64
	// A generous timeout: only the infinite loop should meet it, even on a loaded machine.
	cfg := Config{MemoryPages: pages, Timeout: time.Second, MaxOutputBytes: 64 << 10, MaxModuleBytes: 64 << 10}
	e := newExecutor(t, cfg)
	tests := []struct {
		name       string
		wasm       []byte
		in         Input
		compileErr error
		compileMsg string
		runErr     error
		check      func(t *testing.T, res *Result, err error)
	}{
		// The default budget (DefaultFuel) outlasts the timeout: the deadline stops it.
		{name: "infinite loop", wasm: wasmtest.InfiniteLoop, runErr: ErrTimeout, check: func(t *testing.T, res *Result, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%v does not match context.DeadlineExceeded", err)
			}
			if res.Duration < cfg.Timeout {
				t.Errorf("stopped after %v, before the %v timeout", res.Duration, cfg.Timeout)
			}
		}},
		{name: "infinite loop with a fuel budget", wasm: wasmtest.InfiniteLoop, in: Input{Fuel: 10_000_000}, runErr: ErrOutOfFuel, check: func(t *testing.T, res *Result, err error) {
			if errors.Is(err, ErrTimeout) || res.Fuel > 10_000_000 {
				t.Errorf("%v, %d units used: want out of fuel within the budget", err, res.Fuel)
			}
			if res.Duration > cfg.Timeout/2 {
				t.Errorf("took %v: fuel, not the deadline, should stop it", res.Duration)
			}
		}},
		{name: "memory grow", wasm: wasmtest.MemoryGrow, runErr: ErrTrap, check: func(t *testing.T, res *Result, err error) {
			if got := binary.LittleEndian.Uint32(append(res.Stderr, 0, 0, 0, 0)); got != pages {
				t.Errorf("guest reached %d pages (stderr %x), want the limit %d", got, res.Stderr, pages)
			}
			checkTrap(t, err, "unreachable")
		}},
		{name: "deep recursion", wasm: wasmtest.DeepRecursion, runErr: ErrTrap, check: func(t *testing.T, res *Result, err error) {
			checkTrap(t, err, "stack overflow")
		}},
		{name: "huge stdout", wasm: wasmtest.HugeStdout, runErr: ErrOutputTooLarge, check: func(t *testing.T, res *Result, err error) {
			if len(res.Stdout) != cfg.MaxOutputBytes || bytes.Count(res.Stdout, []byte("A")) != cfg.MaxOutputBytes {
				t.Errorf("stdout is %d bytes, want exactly %d 'A's", len(res.Stdout), cfg.MaxOutputBytes)
			}
			if res.Duration > cfg.Timeout/2 {
				t.Errorf("took %v: the cap did not stop the guest", res.Duration)
			}
		}},
		{name: "exit with bad argument", wasm: wasmtest.Exit, in: Input{Args: []string{"x"}}, runErr: ErrTrap, check: func(t *testing.T, res *Result, err error) {
			checkTrap(t, err, "unreachable")
		}},
		{name: "unknown import", wasm: wasmtest.UnknownImport, compileErr: ErrInvalidModule,
			compileMsg: "imports env.launch_missiles, which this node does not provide"},
		{name: "wrong signature", wasm: wasmtest.BadSignature, compileErr: ErrInvalidModule,
			compileMsg: "imports wasi_snapshot_preview1.fd_write as (i32) -> i32, but this node provides (i32, i32, i32, i32) -> i32"},
		{name: "imports a global", wasm: wasmtest.ImportsGlobal, compileErr: ErrInvalidModule,
			compileMsg: "imports global env.limit, which this node does not provide"},
		{name: "host import without host module", wasm: wasmtest.HostCall, compileErr: ErrInvalidModule,
			compileMsg: "imports test_host.answer, which this node does not provide"},
		{name: "no _start", wasm: wasmtest.NoStart, compileErr: ErrInvalidModule, compileMsg: "exports no _start function"},
		{name: "empty", wasm: wasmtest.Empty, compileErr: ErrInvalidModule, compileMsg: "invalid module: empty module (0 bytes)"},
		{name: "truncated", wasm: wasmtest.Truncated, compileErr: ErrInvalidModule, compileMsg: "invalid module: section memory: truncated"},
		{name: "garbage", wasm: []byte("#!/bin/sh\nrm -rf /\n"), compileErr: ErrInvalidModule, compileMsg: "invalid module: not a WebAssembly binary"},
		{name: "oversized", wasm: wasmtest.Oversized(cfg.MaxModuleBytes), compileErr: ErrModuleTooLarge,
			compileMsg: fmt.Sprintf("over the limit of %d", cfg.MaxModuleBytes)},
		{name: "memory minimum over the limit", wasm: memoryMinModule(pages + 1), compileErr: ErrInvalidModule,
			compileMsg: "over limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer checkHello(t, e)
			m, err := e.Compile(context.Background(), tt.wasm)
			if tt.compileErr != nil {
				if !errors.Is(err, tt.compileErr) || !strings.Contains(err.Error(), tt.compileMsg) {
					t.Fatalf("Compile: %v, want %v containing %q", err, tt.compileErr, tt.compileMsg)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			res, err := e.Run(context.Background(), m, tt.in)
			if !errors.Is(err, tt.runErr) {
				t.Fatalf("Run: %v, want %v", err, tt.runErr)
			}
			if res == nil {
				t.Fatal("no partial Result with the error")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			tt.check(t, res, err)
		})
	}
}

// memoryMinModule is a module declaring a memory of at least pages pages.
func memoryMinModule(pages byte) []byte {
	wasm := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	wasm = append(wasm, 1, 4, 1, 0x60, 0, 0)                             // type () -> ()
	wasm = append(wasm, 3, 2, 1, 0)                                      // one function
	wasm = append(wasm, 5, 3, 1, 0, pages)                               // memory min pages (< 128: one LEB byte)
	wasm = append(wasm, 7, 10, 1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0) // export _start
	return append(wasm, 10, 4, 1, 2, 0, 0x0b)                            // empty body
}

func checkTrap(t *testing.T, err error, reason string) {
	t.Helper()
	var trap *TrapError
	if !errors.As(err, &trap) {
		t.Fatalf("%v is not a *TrapError", err)
	}
	if trap.Reason != reason {
		t.Errorf("trap reason %q, want %q", trap.Reason, reason)
	}
	if !strings.Contains(trap.Detail, reason) {
		t.Errorf("trap detail %q does not hold the reason", trap.Detail)
	}
	if want := "run module: wasm trap: " + reason; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestStdoutCap(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		wasm  []byte
		stdin []byte
		out   string
		err   error
	}{
		{name: "exactly at the cap", limit: 6, wasm: wasmtest.Hello, out: "hello\n"},
		{name: "one byte over", limit: 5, wasm: wasmtest.Hello, out: "hello", err: ErrOutputTooLarge},
		// Cat stops at the first failed write and exits 1: the overflow still decides.
		{name: "guest exits after the refused write", limit: 3, wasm: wasmtest.Cat, stdin: []byte("abcdef"), out: "abc", err: ErrOutputTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newExecutor(t, Config{MaxOutputBytes: tt.limit})
			res, err := e.Run(context.Background(), mustCompile(t, e, tt.wasm), Input{Stdin: tt.stdin})
			if !errors.Is(err, tt.err) || res == nil || string(res.Stdout) != tt.out {
				t.Fatalf("res %+v err %v, want stdout %q err %v", res, err, tt.out, tt.err)
			}
		})
	}
}

func TestStderrCappedSilently(t *testing.T) {
	e := newExecutor(t, Config{MemoryPages: 3, MaxStderrBytes: 2})
	res, err := e.Run(context.Background(), mustCompile(t, e, wasmtest.MemoryGrow), Input{})
	checkTrap(t, err, "unreachable") // not ErrOutputTooLarge
	if !bytes.Equal(res.Stderr, []byte{3, 0}) {
		t.Fatalf("stderr %x, want the first 2 bytes of le32(3)", res.Stderr)
	}
}

func TestTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	e := newExecutor(t, Config{Timeout: timeout})
	m := mustCompile(t, e, wasmtest.InfiniteLoop)
	best := time.Hour
	for range 5 { // the best of five, so a busy machine does not fail the test
		start := time.Now()
		_, err := e.Run(context.Background(), m, Input{})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("Run: %v, want ErrTimeout", err)
		}
		best = min(best, time.Since(start))
	}
	if best < timeout || best > timeout+50*time.Millisecond {
		t.Fatalf("returned after %v, want within [%v, %v]", best, timeout, timeout+50*time.Millisecond)
	}
	checkHello(t, e)
}

func TestCallerContext(t *testing.T) {
	e := newExecutor(t, Config{Timeout: 10 * time.Second})
	m := mustCompile(t, e, wasmtest.InfiniteLoop)

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := e.Run(ctx, m, Input{})
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run: %v, want ErrTimeout and context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v: the caller's deadline was ignored", d)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		res, err := e.Run(ctx, m, Input{})
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) || res == nil {
			t.Fatalf("Run: %v, want context.Canceled only", err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := e.Run(ctx, mustCompile(t, e, wasmtest.Hello), Input{})
		if !errors.Is(err, context.Canceled) || res != nil {
			t.Fatalf("Run: %+v, %v, want context.Canceled and no result", res, err)
		}
	})
	checkHello(t, e)
}

func TestInvalidInput(t *testing.T) {
	e := newExecutor(t, Config{})
	other := newExecutor(t, Config{})
	m := mustCompile(t, e, wasmtest.EchoArgs)
	tests := []struct {
		name string
		m    *Module
		in   Input
		err  error
	}{
		{name: "NUL in an argument", m: m, in: Input{Args: []string{"ok", "a\x00b"}}, err: ErrInvalidInput},
		{name: "nil module", m: nil, err: ErrInvalidInput},
		{name: "module of another executor", m: mustCompile(t, other, wasmtest.Hello), err: ErrForeignModule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.Run(context.Background(), tt.m, tt.in)
			if !errors.Is(err, tt.err) || res != nil {
				t.Fatalf("Run: %+v, %v, want %v", res, err, tt.err)
			}
		})
	}
}

func TestDeterministicRandom(t *testing.T) {
	e := newExecutor(t, Config{})
	m := mustCompile(t, e, wasmtest.Random)
	run := func(seed [32]byte) []byte {
		t.Helper()
		res, err := e.Run(context.Background(), m, Input{Seed: seed})
		if err != nil || len(res.Stdout) != 32 {
			t.Fatalf("Run: %+v, %v", res, err)
		}
		return res.Stdout
	}
	seedA, seedB := [32]byte{1}, [32]byte{2}
	a1, a2, b := run(seedA), run(seedA), run(seedB)
	if !bytes.Equal(a1, a2) {
		t.Fatalf("same seed, different bytes: %x vs %x", a1, a2)
	}
	if bytes.Equal(a1, b) {
		t.Fatalf("different seeds, same bytes %x", a1)
	}
	want := make([]byte, 32)
	_, _ = rand.NewChaCha8(seedA).Read(want)
	if !bytes.Equal(a1, want) {
		t.Fatalf("bytes %x, want the ChaCha8 stream of the seed %x", a1, want)
	}
}

func TestMemoryIsZeroForEveryRun(t *testing.T) {
	e := newExecutor(t, Config{MaxOutputBytes: 1 << 17})
	cat, dump := mustCompile(t, e, wasmtest.Cat), mustCompile(t, e, wasmtest.DumpMemory)
	want := append([]byte{0, 0, 0, 0, 0, 0, 1, 0}, make([]byte, 65536-8)...)
	secret := bytes.Repeat([]byte("secret!"), 500)
	for i := range 20 {
		if _, err := e.Run(context.Background(), cat, Input{Stdin: secret}); err != nil {
			t.Fatalf("Cat: %v", err)
		}
		res, err := e.Run(context.Background(), dump, Input{})
		if err != nil {
			t.Fatalf("DumpMemory: %v", err)
		}
		if !bytes.Equal(res.Stdout, want) {
			t.Fatalf("run %d: memory of a fresh instance holds %d non-zero bytes", i, len(bytes.ReplaceAll(res.Stdout[8:], []byte{0}, nil)))
		}
	}
}

func TestConcurrentRuns(t *testing.T) {
	e := newExecutor(t, Config{})
	m := mustCompile(t, e, wasmtest.EchoArgs)
	const goroutines, runs = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range runs {
				arg := fmt.Sprintf("g%d-run%d", g, i)
				res, err := e.Run(context.Background(), m, Input{Args: []string{arg, "x"}})
				if err != nil || string(res.Stdout) != arg+" x\n" {
					errs <- fmt.Errorf("%s: %v %q", arg, err, res.Stdout)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMaxConcurrent(t *testing.T) {
	var running, peak, calls atomicMax
	release := make(chan struct{})
	host := &testHost{name: "test_host", answer: func(ctx context.Context) uint32 {
		calls.add(1)
		peak.max(running.add(1))
		defer running.add(-1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return 7
	}}
	e := newExecutor(t, Config{MaxConcurrent: 2, HostModules: []HostModule{host}})
	m, hello := mustCompile(t, e, wasmtest.HostCall), mustCompile(t, e, wasmtest.Hello)

	const runs = 6
	var wg sync.WaitGroup
	for range runs {
		wg.Go(func() {
			res, err := e.Run(context.Background(), m, Input{})
			if err != nil || res.ExitCode != 7 {
				t.Errorf("Run: %+v, %v", res, err)
			}
		})
	}
	waitFor(t, func() bool { return calls.load() == 2 })

	// Both slots are taken: a further run waits, and gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e.Run(ctx, hello, Input{})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "wait for a free slot") {
		t.Fatalf("Run while full: %v, want a slot wait that ends with the deadline", err)
	}
	// A compilation needs a slot too.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.Compile(ctx, wasmtest.Cat); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Compile while full: %v, want a slot wait that ends with the deadline", err)
	}

	close(release)
	wg.Wait()
	if peak.load() != 2 || calls.load() != runs {
		t.Fatalf("peak %d concurrent of %d calls, want 2 of %d", peak.load(), calls.load(), runs)
	}
}

func TestHostModule(t *testing.T) {
	host := &testHost{name: "test_host", answer: func(context.Context) uint32 { return 42 }}
	e := newExecutor(t, Config{HostModules: []HostModule{host}})
	res, err := e.Run(context.Background(), mustCompile(t, e, wasmtest.HostCall), Input{})
	if err != nil || res.ExitCode != 42 {
		t.Fatalf("Run: %+v, %v, want exit code 42 from the host function", res, err)
	}

	t.Run("panicking host function is a trap", func(t *testing.T) {
		host := &testHost{name: "test_host", answer: func(context.Context) uint32 { panic("host bug") }}
		e := newExecutor(t, Config{HostModules: []HostModule{host}})
		_, err := e.Run(context.Background(), mustCompile(t, e, wasmtest.HostCall), Input{})
		checkTrap(t, err, "host bug (recovered by wazero)")
		checkHello(t, e)
	})
}

// atomicMax is a counter that also tracks a maximum.
type atomicMax struct {
	mu sync.Mutex
	n  int64
}

func (a *atomicMax) add(d int64) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n += d
	return a.n
}

func (a *atomicMax) max(v int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n = max(a.n, v)
}

func (a *atomicMax) load() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
