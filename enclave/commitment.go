package enclave

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"strings"
)

// commitmentTag separates result commitments from every other hash.
const commitmentTag = "agentnet/commitment/v1"

// PaymentRef names the payment a result was bought with. The zero value
// means the execution was free.
type PaymentRef struct {
	Network string `json:"network,omitempty"` // CAIP-2, e.g. "eip155:84532"
	Payer   string `json:"payer,omitempty"`   // 0x-prefixed address
	Nonce   string `json:"nonce,omitempty"`   // 0x-prefixed EIP-3009 nonce
}

// canonical lowercases the fields so that "0xAB" and "0xab" commit alike.
func (p PaymentRef) canonical() PaymentRef {
	return PaymentRef{strings.ToLower(p.Network), strings.ToLower(p.Payer), strings.ToLower(p.Nonce)}
}

// Transcript is everything a result commitment binds (DESIGN.md 2.2). The
// node builds it after a run; the client rebuilds it from what it sent and
// what the sealed result told it, and compares commitments.
type Transcript struct {
	SessionID  [16]byte
	RequestID  [16]byte
	ModuleHash [32]byte // SHA-256 of the module (or script) that ran
	Args       []string
	Stdin      []byte
	Output     []byte
	ExitCode   uint32
	Fuel       uint64
	Payment    PaymentRef
	// Salt is random per result and travels only inside the sealed result,
	// so the commitment hides the inputs and output from anyone without it.
	Salt [32]byte
}

// Commitment returns
//
//	SHA-256(tag || LP(session_id) || LP(request_id) || LP(SHA-256(module))
//	        || LP(SHA-256(salt || canonical_args)) || LP(SHA-256(salt || output))
//	        || u32(exit_code) || u64(fuel)
//	        || LP(network) || LP(payer) || LP(nonce))
//
// where LP is a 4-byte big-endian length prefix and canonical_args is
// u32(len(args)) || LP(arg_1) || ... || LP(arg_n) || LP(stdin).
func (t *Transcript) Commitment() [32]byte {
	args := sha256.New()
	args.Write(t.Salt[:])
	putU32(args, uint32(len(t.Args)))
	for _, a := range t.Args {
		putLP(args, []byte(a))
	}
	putLP(args, t.Stdin)

	out := sha256.New()
	out.Write(t.Salt[:])
	out.Write(t.Output)

	pay := t.Payment.canonical()
	h := sha256.New()
	h.Write([]byte(commitmentTag))
	putLP(h, t.SessionID[:])
	putLP(h, t.RequestID[:])
	putLP(h, t.ModuleHash[:])
	putLP(h, args.Sum(nil))
	putLP(h, out.Sum(nil))
	putU32(h, t.ExitCode)
	var f [8]byte
	binary.BigEndian.PutUint64(f[:], t.Fuel)
	h.Write(f[:])
	putLP(h, []byte(pay.Network))
	putLP(h, []byte(pay.Payer))
	putLP(h, []byte(pay.Nonce))
	var c [32]byte
	h.Sum(c[:0])
	return c
}

func putU32(h hash.Hash, v uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	h.Write(b[:])
}

func putLP(h hash.Hash, b []byte) {
	putU32(h, uint32(len(b)))
	h.Write(b)
}
