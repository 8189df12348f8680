// Command gobench is a Go wasip1 reactor for the metering benchmarks: the JSON and
// SHA-256 workloads of metertest, exported so that one instance serves many calls (the
// Go runtime starts once, in _initialize). Build with build.sh.
package main

import (
	"crypto/sha256"

	"github.com/agentnet/agentnode/enclave/wasm/meter/metertest"
)

var (
	doc  = metertest.JSONDoc(200)
	data = metertest.Pattern(1 << 20)
)

// jsonParse decodes the 200-record document once and returns its checksum (0 on error).
//
//go:wasmexport json_parse
func jsonParse() uint32 {
	sum, err := metertest.JSONParse(doc)
	if err != nil {
		return 0
	}
	return sum
}

// sha256MiB hashes 1 MiB with crypto/sha256 (plain Go on wasm) and returns the digest's
// first four bytes.
//
//go:wasmexport sha256_mib
func sha256MiB() uint32 {
	s := sha256.Sum256(data)
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

func main() {}
