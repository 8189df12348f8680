package enclave

import "errors"

// Sentinel errors. The bridge maps each to an HTTP status and error code.
var (
	// ErrBadRequest is returned when a request is malformed: a bad id, a
	// payload that is not the documented JSON, a module and an agent both
	// or neither given, an argument with a NUL byte.
	ErrBadRequest = errors.New("bad request")
	// ErrSessionNotFound is returned for a session id the enclave does not
	// hold: never created, or dropped from the bounded table.
	ErrSessionNotFound = errors.New("session not found")
	// ErrSessionExpired is returned for a session past its lifetime.
	ErrSessionExpired = errors.New("session expired")
	// ErrSessionExhausted is returned when a session has run its maximum
	// number of requests; the client opens a new one.
	ErrSessionExhausted = errors.New("session exhausted")
	// ErrDecrypt is returned when a sealed request does not open with the
	// session key and its (session id, request id) binding.
	ErrDecrypt = errors.New("sealed request does not decrypt")
	// ErrReplay is returned when a request id already ran in its session.
	ErrReplay = errors.New("request id already used in this session")
	// ErrUnknownAgent is returned when a request names an agent the node
	// does not have.
	ErrUnknownAgent = errors.New("unknown agent")
	// ErrBadSignature is returned when a commitment signature does not
	// verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrCommitmentMismatch is returned when a recomputed commitment
	// differs from the one the node signed.
	ErrCommitmentMismatch = errors.New("commitment does not match the transcript")
)
