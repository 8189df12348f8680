package wasm

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.MemoryPages != 256 || c.Timeout != 5*time.Second || c.MaxOutputBytes != 1<<20 ||
		c.MaxStderrBytes != 4<<10 || c.MaxModuleBytes != 4<<20 || c.MaxConcurrent != 2*runtime.GOMAXPROCS(0) ||
		c.CompiledModules != 64 || c.CacheDir != "" || c.Logger == nil {
		t.Fatalf("defaults: %+v", c)
	}
	set := Config{MemoryPages: 1, Timeout: time.Second, MaxOutputBytes: 2, MaxStderrBytes: 3, MaxModuleBytes: 4,
		MaxConcurrent: 5, CompiledModules: 6}
	if got := set.withDefaults(); got.MemoryPages != 1 || got.Timeout != time.Second || got.MaxOutputBytes != 2 ||
		got.MaxStderrBytes != 3 || got.MaxModuleBytes != 4 || got.MaxConcurrent != 5 || got.CompiledModules != 6 {
		t.Fatalf("set fields changed: %+v", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	answer := func(context.Context) uint32 { return 0 }
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"too many pages", Config{MemoryPages: 65537}, ErrInvalidConfig},
		{"negative timeout", Config{Timeout: -1}, ErrInvalidConfig},
		{"negative output cap", Config{MaxOutputBytes: -1}, ErrInvalidConfig},
		{"negative stderr cap", Config{MaxStderrBytes: -1}, ErrInvalidConfig},
		{"negative module cap", Config{MaxModuleBytes: -1}, ErrInvalidConfig},
		{"negative concurrency", Config{MaxConcurrent: -1}, ErrInvalidConfig},
		{"negative cache size", Config{CompiledModules: -1}, ErrInvalidConfig},
		{"nil host module", Config{HostModules: []HostModule{nil}}, ErrInvalidConfig},
		{"host module named like WASI", Config{HostModules: []HostModule{&testHost{name: "wasi_snapshot_preview1", answer: answer}}}, ErrInvalidConfig},
		{"unnamed host module", Config{HostModules: []HostModule{&testHost{name: "", answer: answer}}}, ErrInvalidConfig},
		{"duplicate host modules", Config{HostModules: []HostModule{&testHost{name: "a", answer: answer}, &testHost{name: "a", answer: answer}}}, ErrInvalidConfig},
		{"host module under another name", Config{HostModules: []HostModule{&testHost{name: "a", alias: "b", answer: answer}}}, ErrInvalidConfig},
		{"host module failing", Config{HostModules: []HostModule{&testHost{name: "a", fail: errHostBroken}}}, errHostBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(context.Background(), tt.cfg)
			if !errors.Is(err, tt.want) || e != nil {
				t.Fatalf("New: %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "new executor: ") {
				t.Fatalf("error without context: %v", err)
			}
		})
	}
}

func TestCloseIdleTwice(t *testing.T) {
	before := runtime.NumGoroutine()
	e, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	checkHello(t, e)
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := e.Compile(context.Background(), wasmtest.Hello); !errors.Is(err, ErrClosed) {
		t.Fatalf("Compile after Close: %v, want ErrClosed", err)
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
}

func TestRunAfterClose(t *testing.T) {
	e, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := mustCompile(t, e, wasmtest.Hello)
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res, err := e.Run(context.Background(), m, Input{}); !errors.Is(err, ErrClosed) || res != nil {
		t.Fatalf("Run after Close: %+v, %v, want ErrClosed", res, err)
	}
}

func TestCloseStopsRunsAndWaiters(t *testing.T) {
	e, err := New(context.Background(), Config{Timeout: time.Minute, MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	loop, hello := mustCompile(t, e, wasmtest.InfiniteLoop), mustCompile(t, e, wasmtest.Hello)
	running, waiting := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := e.Run(context.Background(), loop, Input{})
		running <- err
	}()
	waitFor(t, func() bool { return len(e.sem) == 1 })
	go func() {
		_, err := e.Run(context.Background(), hello, Input{}) // waits for the slot
		waiting <- err
	}()
	time.Sleep(20 * time.Millisecond)

	start := time.Now()
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %v", took)
	}
	for name, ch := range map[string]chan error{"running": running, "waiting": waiting} {
		if err := <-ch; !errors.Is(err, ErrClosed) {
			t.Errorf("%s run: %v, want ErrClosed", name, err)
		}
	}
}

func TestCloseHonoursContext(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	host := &testHost{name: "test_host", answer: func(context.Context) uint32 {
		close(entered)
		<-release // a host function that ignores its context keeps the run alive
		return 0
	}}
	e, err := New(context.Background(), Config{HostModules: []HostModule{host}})
	if err != nil {
		t.Fatal(err)
	}
	m := mustCompile(t, e, wasmtest.HostCall)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.Run(context.Background(), m, Input{})
	}()
	// Wait until the guest is inside the host function: closing any earlier stops the
	// guest before it gets there, and Close would rightly succeed.
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with a stuck run: %v, want context.DeadlineExceeded", err)
	}
	close(release)
	<-done
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("Close after the run ended: %v", err)
	}
}
