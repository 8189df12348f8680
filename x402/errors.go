package x402

import "errors"

var (
	// ErrMalformed is returned when a header or body is not valid base64 or
	// JSON, or lacks a required field.
	ErrMalformed = errors.New("x402: malformed message")

	// ErrTooLarge is returned when a header or body exceeds MaxHeaderSize or
	// MaxBodySize.
	ErrTooLarge = errors.New("x402: message too large")

	// ErrVersion is returned when a message carries an x402Version this
	// decoder does not handle.
	ErrVersion = errors.New("x402: unsupported x402Version")

	// ErrNoPayment is returned when a request carries neither a
	// PAYMENT-SIGNATURE nor an X-PAYMENT header.
	ErrNoPayment = errors.New("x402: no payment header")

	// ErrUnknownNetwork is returned when a network is neither a CAIP-2 id
	// nor one of the known v1 names.
	ErrUnknownNetwork = errors.New("x402: unknown network")

	// ErrNoMatch is returned when a payment names no entry of the server's
	// accepted requirements.
	ErrNoMatch = errors.New("x402: payment matches no accepted requirements")
)
