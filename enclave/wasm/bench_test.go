package wasm

import (
	"context"
	"testing"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

// benchExecutor returns an executor with Hello compiled and warmed up.
func benchExecutor(b *testing.B) (*Executor, *Module) {
	b.Helper()
	ctx := context.Background()
	e, err := New(ctx, Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close(ctx) })
	m, err := e.Compile(ctx, wasmtest.Hello)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.Run(ctx, m, Input{}); err != nil {
		b.Fatal(err)
	}
	return e, m
}

// BenchmarkExecHello measures a warm run of Hello: instantiate, run _start (6 bytes of
// stdout), close. The target is under 20 µs/op on 2 cores.
func BenchmarkExecHello(b *testing.B) {
	e, m := benchExecutor(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := e.Run(ctx, m, Input{})
		if err != nil || len(res.Stdout) != 6 {
			b.Fatalf("run: %v, %q", err, res.Stdout)
		}
	}
}

// BenchmarkExecHelloParallel runs Hello from GOMAXPROCS goroutines at once: throughput of
// one compiled module shared by concurrent runs.
func BenchmarkExecHelloParallel(b *testing.B) {
	e, m := benchExecutor(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := e.Run(ctx, m, Input{})
			if err != nil || len(res.Stdout) != 6 {
				b.Errorf("run: %v", err)
				return
			}
		}
	})
}

// BenchmarkCompileHit measures Compile of a module already in the cache: size check,
// SHA-256 of the bytes and an LRU lookup.
func BenchmarkCompileHit(b *testing.B) {
	e, _ := benchExecutor(b)
	ctx := context.Background()
	b.SetBytes(int64(len(wasmtest.Hello)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Compile(ctx, wasmtest.Hello); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanManyFuncs measures the admission scan on a module with 20,000 functions.
func BenchmarkScanManyFuncs(b *testing.B) {
	wasm := wasmtest.ManyFuncs(20_000)
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := scanModule(wasm); err != nil {
			b.Fatal(err)
		}
	}
}
