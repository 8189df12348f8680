package ledger

import "errors"

// Sentinel errors. Callers match them with errors.Is; messages wrap them
// with the key or the transition.
var (
	// ErrNonceUsed is returned when Reserve is called for a key the ledger
	// has already seen, in any state: a second use of one EIP-3009
	// authorization, concurrent or later, before or after a restart.
	ErrNonceUsed = errors.New("payment nonce already used")
	// ErrNotFound is returned when no entry exists for a key.
	ErrNotFound = errors.New("ledger entry not found")
	// ErrInvalidTransition is returned when a state change is not allowed
	// from the entry's current state, such as settling a reserved entry
	// that never executed or releasing a settled one. Nothing is changed.
	ErrInvalidTransition = errors.New("invalid ledger state transition")
	// ErrInvalidEntry is returned when a key or entry is malformed: an
	// empty network, a bad address, an oversized field, a negative amount.
	ErrInvalidEntry = errors.New("invalid ledger entry")
	// ErrCorrupt is returned when a stored record cannot be decoded.
	ErrCorrupt = errors.New("corrupt ledger record")
	// ErrSettleRejected is returned by a Settler (wrapped in its own error)
	// when the chain has definitively refused a settlement: the
	// authorization expired, was cancelled, or the payer's balance is too
	// low. Recover marks such entries failed; any other Settler error is
	// treated as transient and the entry stays pending for a later retry.
	ErrSettleRejected = errors.New("settlement rejected")
)
