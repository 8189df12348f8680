package evm

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformed is returned when an address, integer, nonce or
	// signature in a payment does not parse.
	ErrMalformed = errors.New("evm: malformed value")

	// ErrInvalid is returned (wrapped in *Error) when a payment fails a
	// check; the *Error carries the x402 reason.
	ErrInvalid = errors.New("evm: invalid payment")

	// ErrClosed is returned when a Settler is used after Close.
	ErrClosed = errors.New("evm: settler closed")
)

// Error is a rejected payment: Reason is the x402 error reason the
// official SDKs use for the failed check (x402.Reason...), Payer the
// authorization's signer when known. It wraps ErrInvalid and, for checks
// that could not be made (RPC failures), the underlying error.
type Error struct {
	Reason  string
	Message string
	Payer   string
	Err     error
}

func (e *Error) Error() string {
	msg := e.Reason
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrInvalid and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

func invalid(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}
