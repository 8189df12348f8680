package seal

import "errors"

// Sentinel errors.
var (
	// ErrUnknownSuite is returned when a suite name is not supported.
	ErrUnknownSuite = errors.New("unknown HPKE suite")
	// ErrBadKey is returned when a public key does not decode for its suite.
	ErrBadKey = errors.New("invalid public key")
	// ErrMalformed is returned when an envelope is too short to hold an
	// encapsulation and a tag.
	ErrMalformed = errors.New("malformed envelope")
	// ErrDecrypt is returned when an envelope does not open: it was
	// tampered with, sealed to another key, or bound to other info or aad.
	ErrDecrypt = errors.New("envelope does not decrypt")
)
