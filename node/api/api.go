// Package api defines the JSON of the node's HTTP bridge: the request and
// response bodies of every route and the error envelope. The server
// (node/bridge) and the Go client (node/client) share it, and the p2p
// stream protocols carry the same bodies, so one definition keeps all three
// in step. Binary fields are lowercase hex without 0x, the convention of the
// system the bridge mirrors.
package api

import "time"

// CreateKeypairRequest opens a session (POST /encrypt/create_keypair and
// POST /verifiable/encrypt/create_keypair).
type CreateKeypairRequest struct {
	// Pubkey is the client's HPKE public key of Suite; results are sealed
	// to it.
	Pubkey string `json:"pubkey"`
	// Nonce is 32 random bytes; required on the verifiable route, where
	// the evidence binds it.
	Nonce string `json:"nonce,omitempty"`
	// Suite is "x25519" (default) or "mlkem768x25519".
	Suite string `json:"suite,omitempty"`
}

// CreateKeypairResponse describes a new session.
type CreateKeypairResponse struct {
	SessionID      string    `json:"session_id"`
	SessionPubkey  string    `json:"session_pubkey"`
	IdentityPubkey string    `json:"identity_pubkey"`
	PeerID         string    `json:"peer_id"`
	Suite          string    `json:"suite"`
	Platform       string    `json:"platform"`
	Quote          string    `json:"quote,omitempty"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// ExecRequest runs a sealed request (POST /x402_execute/verifiable/wasm).
type ExecRequest struct {
	SessionID string `json:"session_id"`
	// RequestID is 16 random bytes chosen by the client; a request id runs
	// at most once per session.
	RequestID string `json:"request_id"`
	// EncryptedRequest is an HPKE envelope of the JSON ExecPayload
	// ({wasm, agent, args, stdin}) sealed to the session key with info
	// "agentnet/exec/v1" and aad session_id || request_id.
	EncryptedRequest string `json:"encrypted_request"`
	// AttestResult asks for fresh evidence over the result's commitment.
	AttestResult bool `json:"attest_result,omitempty"`
	// PublicKey, when given, must be the session's client key: a check
	// kept for clients of the system this bridge mirrors.
	PublicKey string `json:"public_key,omitempty"`
}

// ExecResponse carries a sealed result and its signed commitment.
type ExecResponse struct {
	SessionID string `json:"session_id"`
	RequestID string `json:"request_id"`
	// EncryptedResult is an HPKE envelope of the JSON ResultPayload sealed
	// to the client key with info "agentnet/result/v1" and aad
	// session_id || request_id.
	EncryptedResult  string `json:"encrypted_result"`
	ResultCommitment string `json:"result_commitment"`
	// Signature is the identity key's Ed25519 signature over
	// "agentnet/result-signature/v1" || result_commitment.
	Signature      string `json:"signature"`
	IdentityPubkey string `json:"identity_pubkey"`
	Platform       string `json:"platform"`
	// ResultQuote is evidence over SHA-512("agentnet/result/v1" ||
	// commitment), when asked for.
	ResultQuote string `json:"result_quote,omitempty"`
	// Payment describes the settlement that paid for the result, if any.
	Payment *Payment `json:"payment,omitempty"`
}

// Payment is the settlement of a paid execution.
type Payment struct {
	Network     string `json:"network"`
	Payer       string `json:"payer"`
	Nonce       string `json:"nonce"`
	Amount      string `json:"amount"`
	Transaction string `json:"transaction"`
}

// NodeInfo is GET /v1/node.
type NodeInfo struct {
	PeerID         string            `json:"peer_id"`
	IdentityPubkey string            `json:"identity_pubkey"`
	Platform       string            `json:"platform"`
	Measurements   map[string]string `json:"measurements,omitempty"`
	Addresses      []string          `json:"addresses,omitempty"`
	Suites         []string          `json:"suites"`
	Version        string            `json:"version"`
	Sessions       int               `json:"sessions"`
}

// Error is the body of every error response.
type Error struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong: a stable machine-readable code and a
// message for people.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes. Clients switch on these, never on messages.
const (
	CodeBadRequest       = "bad_request"
	CodeInvalidJSON      = "invalid_json"
	CodeInvalidHex       = "invalid_hex"
	CodeBodyTooLarge     = "body_too_large"
	CodeSessionNotFound  = "session_not_found"
	CodeSessionExpired   = "session_expired"
	CodeSessionExhausted = "session_exhausted"
	CodeDecryptFailed    = "decrypt_failed"
	CodeReplayedRequest  = "replayed_request"
	CodeUnknownAgent     = "unknown_agent"
	CodeModuleTooLarge   = "module_too_large"
	CodeInvalidModule    = "invalid_module"
	CodeTimeout          = "timeout"
	CodeOutputTooLarge   = "output_too_large"
	CodeTrap             = "trap"
	CodeOutOfFuel        = "out_of_fuel"
	CodeScriptError      = "script_error"
	CodePaymentRequired  = "payment_required"
	CodeBusy             = "busy"
	CodeRateLimited      = "rate_limited"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnauthorized     = "unauthorized"
	CodeInternal         = "internal"
	// CodeForbiddenOrigin: a browser request from another origin (403).
	CodeForbiddenOrigin = "forbidden_origin"
	// CodeMisdirected: a tokenless bridge asked under a name that is not
	// loopback, as DNS rebinding does (421).
	CodeMisdirected = "misdirected_request"
)
