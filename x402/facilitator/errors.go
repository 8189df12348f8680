package facilitator

import (
	"errors"
	"strconv"
)

var (
	// ErrBadResponse is returned when a remote facilitator answers with
	// a body that is not the expected JSON, or with an error status and no
	// usable body.
	ErrBadResponse = errors.New("facilitator: bad response")

	// ErrTooLarge is returned when a remote facilitator's answer exceeds
	// x402.MaxBodySize.
	ErrTooLarge = errors.New("facilitator: response too large")
)

// StatusError is a remote facilitator's error status without a usable
// x402 body.
type StatusError struct {
	Endpoint string
	Status   int
	Body     string
}

func (e *StatusError) Error() string {
	return "facilitator " + e.Endpoint + ": status " + strconv.Itoa(e.Status) + ": " + e.Body
}

// Unwrap makes a StatusError match ErrBadResponse.
func (e *StatusError) Unwrap() error { return ErrBadResponse }
