package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

// TestOutOfFuel is the must-show at the executor: an infinite loop with a
// budget of 10^7 units stops with ErrOutOfFuel, well before 50 ms, with no deadline
// involved, and always after the same amount of work.
func TestOutOfFuel(t *testing.T) {
	e := newExecutor(t, Config{Timeout: time.Minute})
	m := mustCompile(t, e, wasmtest.InfiniteLoop)
	const budget = 10_000_000
	best := time.Hour
	var fuel uint64
	for i := range 5 { // the best of five, so a busy machine does not fail the test
		res, err := e.Run(context.Background(), m, Input{Fuel: budget})
		if !errors.Is(err, ErrOutOfFuel) || errors.Is(err, ErrTimeout) || res == nil {
			t.Fatalf("Run: %+v, %v, want ErrOutOfFuel", res, err)
		}
		if i == 0 {
			fuel = res.Fuel
		}
		if res.Fuel != fuel || res.Fuel < budget-16 || res.Fuel > budget {
			t.Fatalf("run %d used %d units, want the same count every run, just under the budget %d (first %d)", i, res.Fuel, budget, fuel)
		}
		best = min(best, res.Duration)
	}
	if best > 50*time.Millisecond {
		t.Fatalf("stopped after %v, want under 50 ms", best)
	}
	if !strings.Contains(fmtErr(e.Run(context.Background(), m, Input{Fuel: budget})), "out of fuel: the budget of 10000000 units is spent") {
		t.Error("the error does not name the budget")
	}
	checkHello(t, e)
}

func fmtErr(_ *Result, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestFuelBudget checks that the budget is a hard cap with the exact count a run needs:
// Hello needs 10 units, so 10 suffice and 9 do not; Config.Fuel is the default a run
// without its own budget gets.
func TestFuelBudget(t *testing.T) {
	e := newExecutor(t, Config{Fuel: 1_000_000, Timeout: time.Minute})
	hello := mustCompile(t, e, wasmtest.Hello)
	for _, tc := range []struct {
		fuel uint64
		err  error
	}{{10, nil}, {9, ErrOutOfFuel}, {1, ErrOutOfFuel}, {MaxFuel, nil}, {0, nil}} {
		res, err := e.Run(context.Background(), hello, Input{Fuel: tc.fuel})
		if !errors.Is(err, tc.err) || res == nil {
			t.Fatalf("fuel %d: %+v, %v, want %v", tc.fuel, res, err, tc.err)
		}
		if err == nil && (res.Fuel != 10 || string(res.Stdout) != "hello\n") {
			t.Fatalf("fuel %d: used %d, stdout %q", tc.fuel, res.Fuel, res.Stdout)
		}
	}
	start := time.Now()
	res, err := e.Run(context.Background(), mustCompile(t, e, wasmtest.InfiniteLoop), Input{})
	if !errors.Is(err, ErrOutOfFuel) || res.Fuel > 1_000_000 || time.Since(start) > 10*time.Second {
		t.Fatalf("infinite loop under Config.Fuel: %v after %v, used %d", err, time.Since(start), res.Fuel)
	}
	if _, err := e.Run(context.Background(), hello, Input{Fuel: MaxFuel + 1}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("fuel over MaxFuel: %v, want ErrInvalidInput", err)
	}
	if _, err := New(context.Background(), Config{Fuel: MaxFuel + 1}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Config.Fuel over MaxFuel: %v, want ErrInvalidConfig", err)
	}
}

// TestDefaultFuel checks the default budget: DefaultFuel, scaled up with a Timeout long
// enough that a fast guest could otherwise spend it first, never past MaxFuel.
func TestDefaultFuel(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want uint64
	}{
		{Config{}, DefaultFuel},
		{Config{Timeout: time.Second}, DefaultFuel},
		{Config{Timeout: 10 * time.Minute}, 600_000 * fuelPerTimeoutMs},
		{Config{Timeout: 1 << 62}, MaxFuel / fuelPerTimeoutMs * fuelPerTimeoutMs},
		{Config{Timeout: 10 * time.Minute, Fuel: 5}, 5},
	} {
		if got := tc.cfg.withDefaults().Fuel; got != tc.want {
			t.Errorf("timeout %v, fuel %d: default budget %d, want %d", tc.cfg.Timeout, tc.cfg.Fuel, got, tc.want)
		}
	}
}

// TestFuelDeterministic runs the same modules and inputs on two executors, with
// different concurrency and timeouts: the fuel counts match exactly, and change with the
// input.
func TestFuelDeterministic(t *testing.T) {
	a := newExecutor(t, Config{})
	b := newExecutor(t, Config{MaxConcurrent: 1, Timeout: time.Minute, Fuel: MaxFuel})
	inputs := []struct {
		wasm []byte
		in   Input
	}{
		{wasmtest.EchoArgs, Input{Args: []string{"one", "two"}}},
		{wasmtest.EchoArgs, Input{Args: []string{"one", "two", "three"}}},
		{wasmtest.Cat, Input{Stdin: bytes.Repeat([]byte("x"), 100_000)}},
		{wasmtest.Cat, Input{Stdin: bytes.Repeat([]byte("x"), 200_000)}},
		{wasmtest.Random, Input{Seed: [32]byte{1}}},
	}
	seen := map[uint64]bool{}
	for i, tc := range inputs {
		var fuel [2]uint64
		for j, e := range []*Executor{a, b, a} {
			res, err := e.Run(context.Background(), mustCompile(t, e, tc.wasm), tc.in)
			if err != nil {
				t.Fatalf("input %d: %v", i, err)
			}
			if j > 0 && res.Fuel != fuel[0] {
				t.Fatalf("input %d: %d units on run %d, %d on the first", i, res.Fuel, j, fuel[0])
			}
			fuel[0] = res.Fuel
		}
		if seen[fuel[0]] {
			t.Errorf("input %d used %d units like another input", i, fuel[0])
		}
		seen[fuel[0]] = true
	}
}

// startSpin is a WASI command whose start section loops n times and whose _start does
// nothing: the fuel of a start section counts toward the run.
func startSpin(n int32) []byte {
	wasm := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	wasm = append(wasm, 1, 4, 1, 0x60, 0, 0)       // type 0: () -> ()
	wasm = append(wasm, 3, 3, 2, 0, 0)             // functions 0 (spin) and 1 (_start)
	wasm = append(wasm, 7, 10, 1, 6)               // export
	wasm = append(wasm, "_start"...)               // "_start"
	wasm = append(wasm, 0, 1)                      // = function 1
	wasm = append(wasm, 8, 1, 0)                   // start: function 0
	body := []byte{1, 1, 0x7f, 0x41}               // one i32 local; i32.const
	body = appendSLEB(body, n)                     // n
	body = append(body, 0x21, 0, 0x03, 0x40, 0x20, // local.set 0; loop; local.get 0
		0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b, 0x0b) // i32.const 1; i32.sub; local.tee 0; br_if 0; end; end
	code := append([]byte{2, byte(len(body))}, body...)
	code = append(code, 2, 0, 0x0b) // _start: no locals, end
	wasm = append(wasm, 10, byte(len(code)))
	return append(wasm, code...)
}

func appendSLEB(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// TestStartSectionFuel checks that a start section's work is counted and paid from the
// run's budget, and that a start section cannot run past the meter's start budget.
func TestStartSectionFuel(t *testing.T) {
	e := newExecutor(t, Config{Timeout: time.Minute})
	run := func(n int32, fuel uint64) (*Result, error) {
		t.Helper()
		return e.Run(context.Background(), mustCompile(t, e, startSpin(n)), Input{Fuel: fuel})
	}
	small, err := run(1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	large, err := run(2000, 0)
	if err != nil {
		t.Fatal(err)
	}
	perIteration := (large.Fuel - small.Fuel) / 1000
	if perIteration < 4 || large.Fuel-small.Fuel != 1000*perIteration {
		t.Fatalf("1000 and 2000 iterations used %d and %d units: the start section is not counted", small.Fuel, large.Fuel)
	}
	if res, err := run(2000, large.Fuel); err != nil || res.Fuel != large.Fuel {
		t.Fatalf("budget of exactly %d: %v", large.Fuel, err)
	}
	if _, err := run(2000, large.Fuel-1); !errors.Is(err, ErrOutOfFuel) {
		t.Fatalf("budget one unit short: %v, want ErrOutOfFuel", err)
	}
	res, err := run(1<<30, MaxFuel)
	if !errors.Is(err, ErrOutOfFuel) || res.Fuel != startFuel {
		t.Fatalf("endless start section: %+v, %v, want ErrOutOfFuel after the start budget", res, err)
	}
}

// TestMeteredModuleIsAdmitted checks what metering changes at admission: the hash stays
// the original's, a module may not use the meter's reserved names, and a host module may
// not take the meter's import name.
func TestMeteredModuleIsAdmitted(t *testing.T) {
	e := newExecutor(t, Config{})
	m := mustCompile(t, e, wasmtest.Hello)
	if m.Hash() != sha256.Sum256(wasmtest.Hello) || m.Size() != len(wasmtest.Hello) {
		t.Fatalf("hash %x size %d: not the original module's", m.Hash(), m.Size())
	}
	metered, err := meter.Instrument(wasmtest.Hello)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Compile(context.Background(), metered) // imports agentnet_meter itself
	if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), "reserved name") {
		t.Fatalf("Compile of a metered module: %v, want ErrInvalidModule naming the reserved name", err)
	}
	host := &testHost{name: meter.ImportModule, answer: func(context.Context) uint32 { return 0 }}
	if _, err := New(context.Background(), Config{HostModules: []HostModule{host}}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("host module named %s: %v, want ErrInvalidConfig", meter.ImportModule, err)
	}
}

// TestMeteredCacheDir checks the metered modules kept in Config.CacheDir: a second
// executor reads the first one's instead of metering again, and a damaged file is
// ignored and replaced.
func TestMeteredCacheDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	ctx := context.Background()
	first := newExecutor(t, Config{CacheDir: dir})
	checkHello(t, first)
	key, err := meteredKey(sha256.Sum256(wasmtest.Hello))
	if err != nil {
		t.Fatal(err)
	}
	path := first.meteredPath(key)
	stored, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no metered module stored: %v", err)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("metered module dir: %v, mode %v, want 0700", err, st.Mode().Perm())
	}
	want, err := meter.Instrument(wasmtest.Hello)
	if err != nil || !bytes.Equal(stored[:len(stored)-sha256.Size], want) {
		t.Fatalf("stored file is not the metered module: %v", err)
	}

	// Proof that the file is used: put the metered EchoArgs under Hello's key.
	echo, err := meter.Instrument(wasmtest.EchoArgs)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(echo)
	if err := os.WriteFile(path, append(bytes.Clone(echo), sum[:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	second := newExecutor(t, Config{CacheDir: dir})
	res, err := second.Run(ctx, mustCompile(t, second, wasmtest.Hello), Input{Args: []string{"from", "cache"}})
	if err != nil || string(res.Stdout) != "from cache\n" {
		t.Fatalf("second executor: %v, stdout %q: the stored metered module was not used", err, res.Stdout)
	}

	// A temporary file a crash left behind is removed once it is old enough.
	stale, fresh := filepath.Join(filepath.Dir(path), ".tmp-1"), filepath.Join(filepath.Dir(path), ".tmp-2")
	for _, name := range []string{stale, fresh} {
		if err := os.WriteFile(name, []byte("cut off"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(stale, time.Now(), time.Now().Add(-2*staleTempAge)); err != nil {
		t.Fatal(err)
	}
	// So is the directory of an older meter version, which nothing reads any more.
	old := filepath.Join(dir, meteredDirPrefix+strconv.Itoa(meter.Version-1))
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "x.wasm"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	newExecutor(t, Config{CacheDir: dir})
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory of meter version %d: %v, want removed", meter.Version-1, err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file: %v, want removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("recent temporary file (another executor's, maybe): %v, want kept", err)
	}

	// A damaged file is ignored and replaced.
	if err := os.WriteFile(path, stored[:len(stored)-1], 0o600); err != nil {
		t.Fatal(err)
	}
	third := newExecutor(t, Config{CacheDir: dir})
	checkHello(t, third)
	if again, err := os.ReadFile(path); err != nil || !bytes.Equal(again, stored) {
		t.Fatalf("damaged file not replaced: %v", err)
	}
}

// TestSpinningGuestYields runs spinning guests on every P with GOMAXPROCS=1: without
// WithCloseOnContextDone only the meter's yield lets other goroutines run.
func TestSpinningGuestYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	e := newExecutor(t, Config{Timeout: 2 * time.Second})
	m := mustCompile(t, e, wasmtest.InfiniteLoop)
	var running atomic.Bool
	done := make(chan error, 1)
	go func() {
		running.Store(true)
		_, err := e.Run(context.Background(), m, Input{})
		done <- err
	}()
	for !running.Load() {
		runtime.Gosched()
	}
	time.Sleep(10 * time.Millisecond) // the guest is spinning now
	start := time.Now()
	fired := make(chan time.Duration, 1)
	time.AfterFunc(20*time.Millisecond, func() { fired <- time.Since(start) })
	select {
	case d := <-fired:
		if d > 500*time.Millisecond {
			t.Errorf("a 20 ms timer fired after %v while a guest spun", d)
		}
	case err := <-done:
		t.Fatalf("the guest stopped (%v) before the timer fired: the timer waited for it", err)
	}
	if err := <-done; !errors.Is(err, ErrTimeout) {
		t.Fatalf("Run: %v, want ErrTimeout", err)
	}
}
