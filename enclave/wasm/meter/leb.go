package meter

import (
	"fmt"
	"unicode/utf8"
)

// reader is a bounds-checked cursor over a byte slice. Every read reports truncation as
// ErrMalformed instead of panicking, so the decoder is safe on arbitrary input.
type reader struct {
	b   []byte
	pos int
}

func (r *reader) len() int { return len(r.b) - r.pos }

func (r *reader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, fmt.Errorf("read byte at %#x: unexpected end: %w", r.pos, ErrMalformed)
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || n > r.len() {
		return nil, fmt.Errorf("read %d bytes at %#x: unexpected end: %w", n, r.pos, ErrMalformed)
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	return s, nil
}

// u32 reads an unsigned LEB128 value of at most 5 bytes whose unused high bits are zero,
// as the binary format requires (and as wazero decodes it).
func (r *reader) u32() (uint32, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 && c&0xf0 != 0 {
			return 0, fmt.Errorf("read u32 at %#x: overflow: %w", r.pos-1, ErrMalformed)
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("read u32 at %#x: too long: %w", r.pos, ErrMalformed)
}

// signed reads a signed LEB128 value of at most bits bits (32, 33 or 64) and checks that
// the unused bits of the last byte are a sign extension.
func (r *reader) signed(bits int) (int64, error) {
	maxLen := (bits + 6) / 7
	var v int64
	shift := 0
	for i := 0; i < maxLen; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 != 0 {
			continue
		}
		if i == maxLen-1 {
			// The bits of the last byte above the value's width must repeat its sign bit.
			used := bits - 7*(maxLen-1) // value bits held in this byte, sign bit included
			mask := byte(0x7f) &^ (byte(1)<<(used-1) - 1)
			if rest := c & mask; rest != 0 && rest != mask {
				return 0, fmt.Errorf("read s%d at %#x: overflow: %w", bits, r.pos-1, ErrMalformed)
			}
		}
		if shift < 64 && c&0x40 != 0 {
			v |= -1 << shift
		}
		return v, nil
	}
	return 0, fmt.Errorf("read s%d at %#x: too long: %w", bits, r.pos, ErrMalformed)
}

// name reads a length-prefixed UTF-8 string.
func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(int(n))
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("read name at %#x: invalid UTF-8: %w", r.pos-len(b), ErrMalformed)
	}
	return string(b), nil
}

// count reads a vector length and rejects one that cannot fit in the bytes left, given
// that each element takes at least minSize bytes; this caps every allocation by the
// input size.
func (r *reader) count(minSize int) (int, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(minSize) > uint64(r.len()) {
		return 0, fmt.Errorf("read vector at %#x: %d elements cannot fit in %d bytes: %w", r.pos, n, r.len(), ErrMalformed)
	}
	return int(n), nil
}

// vector reads a vector length like count; an absent section (empty payload) is an empty
// vector.
func (r *reader) vector(minSize int) (int, error) {
	if len(r.b) == 0 {
		return 0, nil
	}
	return r.count(minSize)
}

// appendU32 appends v as canonical unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendS64 appends v as canonical signed LEB128.
func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// appendName appends a length-prefixed string.
func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}
