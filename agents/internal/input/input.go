// Package input reads what a demo agent works on: its arguments joined by
// single spaces, or else its standard input, never both, up to a size cap.
//
// The rule is the same for every demo agent so that a caller can pass a
// short text on the command line (agentnode call ... --arg hello) and a
// long one, or binary data, on stdin, and is told clearly when it did both.
package input

import (
	"io"
	"strconv"
	"strings"
)

// Read returns the agent's input. With arguments, it is the arguments
// joined by single spaces and stdin must be empty (ErrBoth otherwise); with
// none, it is all of stdin. Input longer than max bytes is ErrTooLarge.
// Read never returns a partial input with an error.
func Read(args []string, stdin io.Reader, max int) ([]byte, error) {
	if len(args) > 0 {
		n := len(args) - 1
		for _, a := range args {
			n += len(a)
		}
		if n > max {
			return nil, &capError{max: max}
		}
		var one [1]byte
		if k, _ := io.ReadFull(stdin, one[:]); k > 0 {
			return nil, ErrBoth
		}
		return []byte(strings.Join(args, " ")), nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, int64(max)+1))
	if err != nil {
		return nil, &readError{err: err}
	}
	if len(b) > max {
		return nil, &capError{max: max}
	}
	return b, nil
}

// capError says how large an input may be; it matches ErrTooLarge.
type capError struct{ max int }

func (e *capError) Error() string {
	return "read input: over the cap of " + strconv.Itoa(e.max) + " bytes: " + ErrTooLarge.Error()
}

func (e *capError) Unwrap() error { return ErrTooLarge }

// readError wraps a failure of the stdin reader.
type readError struct{ err error }

func (e *readError) Error() string { return "read standard input: " + e.err.Error() }

func (e *readError) Unwrap() error { return e.err }
