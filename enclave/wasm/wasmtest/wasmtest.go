// Package wasmtest holds small WebAssembly modules for tests of the executor and of
// everything built on it (bridge, p2p exec, testnet): well-behaved WASI commands and a
// hostile set that each exercise one limit of the sandbox.
//
// Every module is a WASI preview 1 command (it exports _start) unless its doc says
// otherwise. The .wasm files are built from the .wat sources beside them in testdata/ by
// build.sh (wabt's wat2wasm); edit the .wat, run `go generate`, commit both.
// The byte slices are shared: tests must not modify them.
package wasmtest

import (
	_ "embed"
)

//go:generate sh build.sh

// Hello writes "hello\n" (6 bytes) to stdout and exits 0. It is the module of the
// warm-execution benchmarks.
//
//go:embed testdata/hello.wasm
var Hello []byte

// EchoArgs writes its arguments after argv[0] joined by single spaces, then "\n"; with no
// arguments it writes just "\n". It checks that arguments reach the guest intact.
//
//go:embed testdata/echo_args.wasm
var EchoArgs []byte

// Cat copies stdin to stdout. It exits 2 on a read error and 1 on a write error (for
// example when the executor's output cap refuses a write).
//
//go:embed testdata/cat.wasm
var Cat []byte

// Exit exits with the decimal code given as its first argument (e.g. "3") through
// proc_exit; without an argument it exits 0, and a non-numeric argument traps with
// "unreachable".
//
//go:embed testdata/exit.wasm
var Exit []byte

// Random asks random_get for 32 bytes and writes them to stdout, so its output shows
// whether the executor's random source is deterministic.
//
//go:embed testdata/random.wasm
var Random []byte

// DumpMemory writes its whole first memory page (65,536 bytes) to stdout, having
// initialised only the 8-byte iovec at offset 0 ({0, 65536}). Fresh WebAssembly memory is
// zeroed, so any other non-zero byte is data leaked from an earlier instance.
//
//go:embed testdata/dump_memory.wasm
var DumpMemory []byte

// InfiniteLoop spins forever; only the executor's fuel budget or deadline stops it.
//
//go:embed testdata/infinite_loop.wasm
var InfiniteLoop []byte

// MemoryGrow grows its memory one page at a time until memory.grow returns -1 (the
// executor's page limit), writes the page count it reached to stderr as a 4-byte
// little-endian integer, and then traps with "unreachable". A test can thus check both
// that growth stopped and where.
//
//go:embed testdata/memory_grow.wasm
var MemoryGrow []byte

// DeepRecursion recurses without end (not a tail call, so no engine can turn it into a
// loop); the engine traps with "stack overflow".
//
//go:embed testdata/deep_recursion.wasm
var DeepRecursion []byte

// HugeStdout writes 100 MiB of 'A' to stdout in 4 KiB writes, ignoring every write
// error, and then exits 0: only an output cap that stops the guest ends it early.
//
//go:embed testdata/huge_stdout.wasm
var HugeStdout []byte

// TableGrow declares a table without a maximum (as Go's linker does), grows it by 1
// element and then by 2^31 - 1. It exits 0 when the small grow succeeded and the huge one
// failed, 1 when the small one failed, 2 when the huge one succeeded. A runtime that
// does not bound tables tries to allocate 16 GiB for it: it is not in [Hostile] for that
// reason, and must only run on an executor that bounds tables.
//
//go:embed testdata/table_grow.wasm
var TableGrow []byte

// UnknownImport imports env.launch_missiles, a host function no node provides.
//
//go:embed testdata/unknown_import.wasm
var UnknownImport []byte

// OpenFile tries path_open("etc/passwd") relative to fd 3, the first preopened directory
// in WASI. If that fails it exits with the WASI errno as its exit code; if it succeeds
// (a host that mounts "/") it copies the file to stdout.
//
//go:embed testdata/open_file.wasm
var OpenFile []byte

// NoStart is a valid module with a "run" export but no _start: not a WASI command.
//
//go:embed testdata/no_start.wasm
var NoStart []byte

// HostCall imports test_host.answer () -> i32 and exits with the value it returns. It
// tests host modules registered with an executor.
//
//go:embed testdata/host_call.wasm
var HostCall []byte

// BadSignature imports wasi_snapshot_preview1.fd_write with the wrong signature
// (i32) -> i32: the right name, a function no node provides.
//
//go:embed testdata/bad_signature.wasm
var BadSignature []byte

// ImportsGlobal imports a global, env.limit: a non-function import no node provides.
//
//go:embed testdata/imports_global.wasm
var ImportsGlobal []byte

// Empty is a 0-byte module.
var Empty = []byte{}

// Truncated is Hello cut in half: a valid header followed by a section that ends early.
var Truncated = truncate(Hello)

func truncate(b []byte) []byte {
	return append([]byte(nil), b[:len(b)/2]...)
}

// Hostile returns the hostile modules by name (a fresh map on each call), for tests that
// check that each one ends with a clear error and leaves the executor usable. The
// oversized module is made with [Oversized] because its size depends on the limit under
// test.
func Hostile() map[string][]byte {
	return map[string][]byte{
		"infinite_loop":  InfiniteLoop,
		"memory_grow":    MemoryGrow,
		"deep_recursion": DeepRecursion,
		"huge_stdout":    HugeStdout,
		"unknown_import": UnknownImport,
		"open_file":      OpenFile,
		"empty":          Empty,
		"truncated":      Truncated,
	}
}
