// Package metertest holds test helpers for enclave/wasm/meter and its users: a
// generator of random valid WebAssembly modules for differential tests and fuzzing, and
// the native Go twins of the benchmark workloads. It has no dependency on wazero so
// that the workloads also compile into the Go guests (GOOS=wasip1).
package metertest

import (
	"math/rand/v2"
)

// Value types of generated code.
const (
	I32  byte = 0x7f
	I64  byte = 0x7e
	F32  byte = 0x7d
	F64  byte = 0x7c
	V128 byte = 0x7b
)

// HostModule and HostFunc name the one function generated modules may import when
// GenConfig.Imports is set: (i32) -> i32, which the test must provide (any pure function
// works; the differential harness uses x*3+1). HostGlobal is an imported immutable i32.
const (
	HostModule = "env"
	HostFunc   = "imp"
	HostGlobal = "ig"
)

// GenConfig tunes the generator.
type GenConfig struct {
	// Funcs is the number of defined functions (default 6).
	Funcs int
	// Imports adds an imported function and global (see HostModule).
	Imports bool
	// Start adds a start section.
	Start bool
	// SIMD lets code use v128 values.
	SIMD bool
	// Budget bounds the instructions of one function body (default 200).
	Budget int
}

// Generate returns a random valid module, a pure function of seed and cfg. Every
// function terminates (loops count down a private local; calls only go to functions of
// higher index, directly or through the table), may trap deterministically (division,
// unreachable, table and memory bounds), and is exported as "f<i>"; the memory is
// exported as "memory" and the mutable globals as "g<i>". The harness calls the exports
// in order and compares results, traps, memory and globals.
func Generate(seed uint64, cfg GenConfig) []byte {
	if cfg.Funcs <= 0 {
		cfg.Funcs = 6
	}
	if cfg.Budget <= 0 {
		cfg.Budget = 200
	}
	g := &gen{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cfg: cfg}
	return g.module()
}
