package wasm

import (
	"errors"
	"fmt"
)

// Internal causes of a scan failure; Compile reports both as ErrInvalidModule.
var (
	errMalformed = errors.New("malformed module")
	errOverLimit = errors.New("module over a limit")
)

// scanError is a scan failure: its message is for users, its cause for tests.
type scanError struct {
	cause error
	msg   string
}

func (e *scanError) Error() string { return e.msg }
func (e *scanError) Unwrap() error { return e.cause }

// malformed reports bytes that are not a well-formed module.
func malformed(format string, args ...any) error {
	return &scanError{cause: errMalformed, msg: fmt.Sprintf(format, args...)}
}

// overLimit reports a well-formed module over one of the structural limits.
func overLimit(format string, args ...any) error {
	return &scanError{cause: errOverLimit, msg: fmt.Sprintf(format, args...)}
}

// reader is a bounds-checked cursor over a byte slice: every read fails cleanly at the
// end instead of panicking, and no read allocates more than the bytes it covers.
type reader struct {
	b   []byte
	pos int
}

func (r *reader) left() int { return len(r.b) - r.pos }

func (r *reader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, malformed("truncated: unexpected end")
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

// bytes returns the next n bytes without copying.
func (r *reader) bytes(n uint32) ([]byte, error) {
	if uint64(n) > uint64(r.left()) {
		return nil, malformed("truncated: %d bytes declared, %d left", n, r.left())
	}
	b := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

func (r *reader) u32() (uint32, error) {
	v, err := r.uleb(32)
	return uint32(v), err
}

// uleb reads an unsigned LEB128 value of at most bits bits.
func (r *reader) uleb(bits uint) (uint64, error) {
	var v uint64
	for shift := uint(0); shift < bits; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if rest := bits - shift; rest < 7 && (c&0x7f)>>rest != 0 {
			return 0, malformed("integer overflows %d bits", bits)
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, malformed("integer longer than %d bits", bits)
}

// skipSLEB reads past a signed LEB128 value of at most bits bits.
func (r *reader) skipSLEB(bits uint) error {
	for n := uint(0); n < (bits+6)/7; n++ {
		c, err := r.byte()
		if err != nil {
			return err
		}
		if c&0x80 == 0 {
			return nil
		}
	}
	return malformed("integer longer than %d bits", bits)
}

// count reads a vector length and checks it against limit and against the bytes left,
// given that every element takes at least minBytes bytes. This is the check that keeps
// a decoder from allocating for elements that are not there.
func (r *reader) count(what string, limit uint32, minBytes int) (uint32, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, overLimit("%d %s, over the limit of %d", n, what, limit)
	}
	if uint64(n)*uint64(minBytes) > uint64(r.left()) {
		return 0, malformed("truncated: %d %s declared in %d bytes", n, what, r.left())
	}
	return n, nil
}

// name reads a length-prefixed name of at most maxNameBytes bytes (not checked for UTF-8
// here; wazero does that).
func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	if n > maxNameBytes {
		return "", overLimit("a name of %d bytes, over the limit of %d", n, maxNameBytes)
	}
	b, err := r.bytes(n)
	return string(b), err
}
