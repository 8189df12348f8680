package agentnet

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Network is what the host module needs from the node: search and call. The node
// implements it over its p2p searcher, its clients of remote nodes and its payer. Both
// methods block; they must honour ctx (the guest's deadline rides in it) and report
// failures by wrapping this package's sentinel errors.
type Network interface {
	// Search finds at most limit agents whose cards match query, best first.
	Search(ctx context.Context, query string, limit int) ([]Agent, error)
	// Call runs an agent and verifies its receipt. The result's Paid counts also when
	// Call fails after paying (a callee that trapped after running is paid).
	Call(ctx context.Context, req CallRequest) (CallResult, error)
}

// Agent is one search result as guests read it (JSON).
type Agent struct {
	// Peer is the peer id of the node that runs the agent.
	Peer string `json:"peer"`
	// Agent is the agent's name on that node.
	Agent       string `json:"agent"`
	Description string `json:"description"`
	// Price is the price of one call in the token's atomic units, a decimal string as in
	// x402 ("0" when free).
	Price string `json:"price"`
	// Platform is the TEE the node's evidence proves: "tdx", "snp" or "sim".
	Platform string `json:"platform"`
	// Score ranks the results (BM25 over name, description and tags); higher is better.
	Score float64 `json:"score"`
}

// CallRequest is one agent-to-agent call as the host module hands it to the Network.
type CallRequest struct {
	// Peer and Agent name the callee. When Query is set instead, the Network calls the
	// best-ranked match of a search for Query whose price is at most MaxPrice.
	Peer, Agent string
	Query       string
	// Input is the callee's stdin.
	Input []byte
	// MaxPrice is the most this call may pay, in atomic units: the guest's max_price or
	// what is left of the run's budget, whichever is less.
	MaxPrice uint64
	// Caller is the calling agent: the payer policy sees it as the payment's origin.
	Caller string
	// Depth is the callee's call depth, the caller's plus one; the Network passes it to
	// the callee's node, which applies it to the callee's own calls.
	Depth int
}

// CallResult is a verified result of a call.
type CallResult struct {
	// Peer and Agent name who answered (the best match, for a call by query).
	Peer, Agent string
	// Output is the callee's stdout; ExitCode its exit status.
	Output   []byte
	ExitCode uint32
	// Commitment is the result commitment the callee's node signed (DESIGN.md 2.2).
	Commitment [32]byte
	// Signature is the identity key's signature over Commitment.
	Signature []byte
	// Verified is true when the node checked the callee's evidence under its peer
	// policy, the commitment and the signature, and the module the card advertises.
	Verified bool
	// Platform is the callee's TEE platform.
	Platform string
	// ModuleSHA256 is the SHA-256 of the module that ran.
	ModuleSHA256 [32]byte
	// Paid is what the call paid, in atomic units (0 for a free agent).
	Paid uint64
	// Transaction is the settlement's transaction hash, "" when nothing was paid.
	Transaction string
	// Duration is how long the call took, as the caller saw it.
	Duration time.Duration
}

// Target caps: a peer id is about 52 characters, an agent name at most 64.
const (
	maxPeerLen   = 128
	maxAgentLen  = 64
	maxTargetLen = maxPeerLen + 1 + maxAgentLen
)

// ParseTarget splits a call target "peer/name" into the callee's peer id and agent name.
// Both parts must be non-empty printable ASCII without spaces or further slashes, at most
// 128 and 64 bytes; anything else is ErrBadArgument. The node checks the parts further
// (a peer id that decodes, an agent name of the card rules).
func ParseTarget(s string) (peer, agent string, err error) {
	if len(s) > maxTargetLen {
		return "", "", fmt.Errorf("%w: target is %d bytes, at most %d", ErrBadArgument, len(s), maxTargetLen)
	}
	peer, agent, ok := strings.Cut(s, "/")
	switch {
	case !ok:
		return "", "", fmt.Errorf("%w: target %q is not peer/name", ErrBadArgument, s)
	case peer == "" || len(peer) > maxPeerLen || !isToken(peer):
		return "", "", fmt.Errorf("%w: target %q: bad peer id", ErrBadArgument, s)
	case agent == "" || len(agent) > maxAgentLen || !isToken(agent):
		return "", "", fmt.Errorf("%w: target %q: bad agent name", ErrBadArgument, s)
	}
	return peer, agent, nil
}

// isToken reports whether s is printable ASCII without spaces or slashes.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '/' {
			return false
		}
	}
	return true
}
