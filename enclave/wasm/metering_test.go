package wasm

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

// FuzzDecodeMetered feeds arbitrary files to the reader of stored metered modules: it
// never panics, returns at most the cap, and accepts exactly the files whose last 32
// bytes are the SHA-256 of the rest.
func FuzzDecodeMetered(f *testing.F) {
	const limit = 1 << 10
	frame := func(b []byte) []byte {
		sum := sha256.Sum256(b)
		return append(bytes.Clone(b), sum[:]...)
	}
	for _, seed := range [][]byte{
		frame(wasmtest.Hello), frame(wasmtest.Hello)[1:], frame(nil), frame([]byte{0}),
		frame(bytes.Repeat([]byte{1}, limit)), frame(bytes.Repeat([]byte{1}, limit+1)), nil, make([]byte, sha256.Size),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		got, err := decodeMetered(bytes.NewReader(file), limit)
		valid := len(file) > sha256.Size && len(file)-sha256.Size <= limit
		if valid {
			body := file[:len(file)-sha256.Size]
			sum := sha256.Sum256(body)
			valid = bytes.Equal(sum[:], file[len(file)-sha256.Size:])
		}
		switch {
		case valid && (err != nil || !bytes.Equal(got, file[:len(file)-sha256.Size])):
			t.Fatalf("valid file refused: %v", err)
		case !valid && err == nil:
			t.Fatalf("invalid file of %d bytes accepted", len(file))
		case len(got) > limit:
			t.Fatalf("returned %d bytes, over the cap %d", len(got), limit)
		}
	})
}
