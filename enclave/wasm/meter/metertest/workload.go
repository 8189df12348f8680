package metertest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"strings"
)

// Loop is the native twin of the "loop" export of testdata/workloads.wat: the sum of
// i ^ (i >> 3) for i in [0, n), wrapping, computed in one basic block per iteration.
func Loop(n uint32) uint32 {
	var acc, i uint32
	for {
		acc += i ^ (i >> 3)
		i++
		if i >= n {
			return acc
		}
	}
}

// Fib is the native twin of the "fib" export: the naive Fibonacci with its second
// recursive call turned into a loop, the shape an optimizing compiler gives it.
func Fib(n uint32) uint32 {
	var acc uint32
	for n >= 2 {
		acc += Fib(n - 1)
		n -= 2
	}
	return acc + n
}

// FibRec is the native twin of the "fibrec" export: the doubly recursive Fibonacci.
func FibRec(n uint32) uint32 {
	if n < 2 {
		return n
	}
	return FibRec(n-1) + FibRec(n-2)
}

var sha256K = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

// SHA256 is a plain-Go SHA-256 (FIPS 180-4) with the same structure as
// testdata/sha256.wat: the native baseline for the metered sha256 workload, since
// crypto/sha256 uses SHA-NI or AVX2 assembly where the CPU has them.
func SHA256(data []byte) [32]byte {
	h := [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}
	n := len(data) &^ 63
	for p := 0; p < n; p += 64 {
		compress(&h, data[p:p+64])
	}
	var tail [128]byte
	rem := copy(tail[:], data[n:])
	tail[rem] = 0x80
	blocks := tail[:64]
	if rem >= 56 {
		blocks = tail[:128]
	}
	binary.BigEndian.PutUint64(blocks[len(blocks)-8:], uint64(len(data))*8)
	for p := 0; p < len(blocks); p += 64 {
		compress(&h, blocks[p:p+64])
	}
	var out [32]byte
	for i, v := range h {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
	return out
}

func compress(h *[8]uint32, block []byte) {
	var w [64]uint32
	for i := 0; i < 16; i++ {
		w[i] = binary.BigEndian.Uint32(block[4*i:])
	}
	for i := 16; i < 64; i++ {
		x, y := w[i-2], w[i-15]
		s1 := bits.RotateLeft32(x, -17) ^ bits.RotateLeft32(x, -19) ^ x>>10
		s0 := bits.RotateLeft32(y, -7) ^ bits.RotateLeft32(y, -18) ^ y>>3
		w[i] = s1 + w[i-7] + s0 + w[i-16]
	}
	a, b, c, d, e, f, g, hh := h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
	for i := 0; i < 64; i++ {
		t1 := hh + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) +
			(g ^ (e & (f ^ g))) + sha256K[i] + w[i]
		t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) +
			((a & b) | (c & (a | b)))
		hh, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
	}
	h[0] += a
	h[1] += b
	h[2] += c
	h[3] += d
	h[4] += e
	h[5] += f
	h[6] += g
	h[7] += hh
}

// Pattern returns n deterministic pseudo-random bytes (xorshift), the input of the
// sha256 workload.
func Pattern(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// Record is one element of the JSON workload's document.
type Record struct {
	ID      int               `json:"id"`
	Name    string            `json:"name"`
	Email   string            `json:"email"`
	Active  bool              `json:"active"`
	Score   float64           `json:"score"`
	Tags    []string          `json:"tags"`
	Friends []int             `json:"friends"`
	Attrs   map[string]string `json:"attrs"`
}

// JSONDoc returns a deterministic JSON array of n records (about 250 bytes each).
func JSONDoc(n int) []byte {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":%d,"name":"user \"%d\"","email":"user%d@example.org","active":%t,"score":%d.%03d,`+
			`"tags":["t%d","t%d","common"],"friends":[%d,%d,%d],"attrs":{"city":"c%d","lang":"l%d\u00e9"}}`,
			i, i, i, i%3 == 0, i*7%1000, i*13%1000, i%17, i%5, (i+1)%n, (i+7)%n, (i*3)%n, i%11, i%4)
	}
	sb.WriteByte(']')
	return []byte(sb.String())
}

// JSONParse decodes doc (as made by JSONDoc) and returns a checksum of what it read, so
// that native and guest runs can be compared.
func JSONParse(doc []byte) (uint32, error) {
	var recs []Record
	if err := json.Unmarshal(doc, &recs); err != nil {
		return 0, err
	}
	var sum uint32
	for _, r := range recs {
		sum = sum*31 + uint32(r.ID) + uint32(len(r.Name)) + uint32(len(r.Email)) + uint32(len(r.Tags)) +
			uint32(len(r.Attrs["city"])) + uint32(r.Score*1000)
		for _, f := range r.Friends {
			sum += uint32(f)
		}
		if r.Active {
			sum ^= 0x5555
		}
	}
	return sum, nil
}
