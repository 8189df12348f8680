// Package notarize is the notary agent's digest, which the research agent
// also computes over its own report: one definition, so that the two agree
// byte for byte.
package notarize

import (
	"crypto/sha256"
	"encoding/binary"
)

// Scheme is the digest's domain-separation string and the "scheme" field
// of the notary's answer.
const Scheme = "agentnet/notary/v1"

// Digest returns SHA-256(Scheme || LP(data)), LP being a 4-byte big-endian
// length prefix. data must be shorter than 4 GiB, which the agents' input
// caps guarantee.
func Digest(data []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(Scheme))
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	h.Write(n[:])
	h.Write(data)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}
