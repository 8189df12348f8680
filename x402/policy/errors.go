package policy

import "errors"

// Sentinel errors, wrapped with context; script errors also wrap the
// script package's kinds (script.ErrSteps, script.ErrMemory, …) and carry
// the policy file's file:line.
var (
	// ErrBadPayment is returned when a payment or request handed to a
	// policy is malformed: no network, a negative or oversized amount,
	// oversized strings.
	ErrBadPayment = errors.New("invalid payment for policy")
	// ErrBadDecision is returned when decide() or price() returns
	// something other than the documented shapes.
	ErrBadDecision = errors.New("policy returned an invalid decision")
	// ErrNoEntryPoint is returned when a policy file defines neither
	// decide(payment) nor price(request), or the one the caller needs is
	// missing or takes other parameters.
	ErrNoEntryPoint = errors.New("policy defines no entry point")
	// ErrUnknownHold is returned by Commit and Rollback for a hold that
	// does not exist (already committed or rolled back, or never made).
	ErrUnknownHold = errors.New("unknown spending hold")
	// ErrCorrupt is returned when a stored spending record cannot be read.
	ErrCorrupt = errors.New("corrupt spending record")
	// ErrNoDatabase is returned by Authorize when the payer was built
	// without a database to keep spending in.
	ErrNoDatabase = errors.New("payer has no spending database")
)
