package input

import "errors"

var (
	// ErrTooLarge is returned by [Read] when the input is longer than the
	// cap the agent allows.
	ErrTooLarge = errors.New("input too large")
	// ErrBoth is returned by [Read] when the agent got arguments and a
	// non-empty standard input: it would have to guess which one is meant.
	ErrBoth = errors.New("input given both as arguments and on standard input; give one")
)
