package enclave

import (
	"encoding/hex"
	"fmt"

	"github.com/agentnet/agentnode/enclave/attest"
)

// HPKE info strings: one per message direction, so a sealed request can
// never be replayed as a sealed result or the reverse.
const (
	InfoExec   = "agentnet/exec/v1"
	InfoResult = "agentnet/result/v1"
)

// ID is a 16-byte session or request identifier, hex on the wire.
type ID [16]byte

// ParseID decodes a 32-character hex identifier.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("parse id: %d hex characters, want %d: %w", len(s), 2*len(id), ErrBadRequest)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("parse id: %w", ErrBadRequest)
	}
	return id, nil
}

// String returns the identifier as lowercase hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// MessageAAD is the associated data of a sealed request and of its sealed
// result: session_id || request_id (DESIGN.md 2.2). It ties each envelope to
// one request of one session.
func MessageAAD(session, request ID) []byte {
	aad := make([]byte, 0, 32)
	aad = append(aad, session[:]...)
	return append(aad, request[:]...)
}

// ExecPayload is the plaintext of a sealed request: what to run — a
// module, the name of an agent deployed on the node, or a Starlark script —
// with its arguments and stdin. In JSON, byte fields are base64 (standard
// encoding, padded).
type ExecPayload struct {
	Wasm  []byte `json:"wasm,omitempty"`
	Agent string `json:"agent,omitempty"`
	// Script is Starlark source whose main(args) runs in the sandbox of
	// package script (the /x402_policy/unsafe/python route).
	Script string   `json:"script,omitempty"`
	Args   []string `json:"args,omitempty"`
	Stdin  []byte   `json:"stdin,omitempty"`
}

// Kind says what a request runs.
type Kind string

// The kinds of request.
const (
	KindWasm   Kind = "wasm"   // a module sent with the request
	KindAgent  Kind = "agent"  // an agent deployed on the node
	KindScript Kind = "script" // a Starlark script
)

// kind returns what p runs, or an error unless exactly one of module,
// agent and script is given.
func (p *ExecPayload) kind() (Kind, error) {
	var kinds []Kind
	if len(p.Wasm) > 0 {
		kinds = append(kinds, KindWasm)
	}
	if p.Agent != "" {
		kinds = append(kinds, KindAgent)
	}
	if p.Script != "" {
		kinds = append(kinds, KindScript)
	}
	if len(kinds) != 1 {
		return "", fmt.Errorf("%w: give exactly one of a module (wasm), an agent name or a script, got %d", ErrBadRequest, len(kinds))
	}
	return kinds[0], nil
}

// ResultPayload is the plaintext of a sealed result. With the request it
// opens the commitment: ModuleHash, Output, ExitCode, Fuel and Salt are
// the transcript fields the client does not already know.
type ResultPayload struct {
	Output     []byte          `json:"output"`
	ExitCode   uint32          `json:"exit_code"`
	Fuel       uint64          `json:"fuel"`
	Salt       attest.HexBytes `json:"salt"`
	ModuleHash attest.HexBytes `json:"module_sha256"`
	// Stderr is the module's diagnostic output, capped. The commitment does
	// not cover it: treat it as a debugging aid, not as a result.
	Stderr []byte `json:"stderr,omitempty"`
}
