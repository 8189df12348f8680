package p2p

import "errors"

// Sentinel errors. Callers match them with errors.Is; messages wrap them
// with the detail.
var (
	// ErrInvalidConfig is returned when a Config field is missing or out
	// of range; New returns it before anything opens.
	ErrInvalidConfig = errors.New("invalid p2p config")
	// ErrNotStarted is returned when a method that needs the running host
	// is called before Start or after Close.
	ErrNotStarted = errors.New("p2p host not started")
	// ErrClosed is returned when Start is called on a closed host.
	ErrClosed = errors.New("p2p host closed")
	// ErrFrameTooLarge is returned when a frame's length prefix exceeds the
	// reader's cap, or a writer is handed more than the cap. The stream is
	// reset: nothing of an oversized frame is read.
	ErrFrameTooLarge = errors.New("frame exceeds size cap")
	// ErrMalformedFrame is returned when a length prefix is not a minimal
	// unsigned varint, a frame ends early, or a JSON frame does not decode.
	ErrMalformedFrame = errors.New("malformed frame")
	// ErrBusy is returned (and the stream reset) when a peer already has
	// as many streams of a protocol in flight as the handler allows.
	ErrBusy = errors.New("too many concurrent streams from peer")
)
