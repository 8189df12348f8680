package p2p

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Frames are a length prefix, an unsigned varint as in go-msgio and
// multiformats (minimal encoding, at most 4 bytes, so at most 256 MiB), then
// that many bytes. Every reader names its cap: the prefix is checked against
// it before a byte of the body is read, and bodies above 64 KiB are read in
// growing chunks so that a peer announcing a large frame and sending nothing
// pins no memory.

// maxPrefixLen bounds the varint prefix; 4 bytes carry 28 bits.
const maxPrefixLen = 4

// eagerAlloc is the largest body allocated in one piece before any of it
// has arrived.
const eagerAlloc = 64 << 10

// ReadFrame reads one frame of at most max bytes from r. It returns
// ErrFrameTooLarge when the prefix announces more, ErrMalformedFrame for a
// bad prefix or a body cut short, and io.EOF when r ends cleanly before the
// first byte (the peer sent no more frames).
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	n, err := readPrefix(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("read frame of %d bytes, cap %d: %w", n, max, ErrFrameTooLarge)
	}
	if n <= eagerAlloc {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("read frame body: %w", bodyErr(err))
		}
		return buf, nil
	}
	var buf bytes.Buffer
	buf.Grow(eagerAlloc)
	got, err := buf.ReadFrom(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, fmt.Errorf("read frame body: %w", bodyErr(err))
	}
	if uint64(got) != n {
		return nil, fmt.Errorf("read frame body: %d of %d bytes: %w", got, n, ErrMalformedFrame)
	}
	return buf.Bytes(), nil
}

func bodyErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("stream ended inside frame: %w", ErrMalformedFrame)
	}
	return err
}

// readPrefix reads a minimal unsigned varint of at most maxPrefixLen bytes,
// one byte at a time so that nothing past the prefix is consumed.
func readPrefix(r io.Reader) (uint64, error) {
	var b [1]byte
	var x uint64
	for i := 0; i < maxPrefixLen; i++ {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			if i == 0 && errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("read frame prefix: %w", bodyErr(err))
		}
		x |= uint64(b[0]&0x7f) << (7 * i)
		if b[0] < 0x80 {
			if b[0] == 0 && i > 0 {
				return 0, fmt.Errorf("read frame prefix: non-minimal varint: %w", ErrMalformedFrame)
			}
			return x, nil
		}
	}
	return 0, fmt.Errorf("read frame prefix: longer than %d bytes: %w", maxPrefixLen, ErrFrameTooLarge)
}

// MaxFrame is the largest frame WriteFrame sends: what a 4-byte prefix
// carries.
const MaxFrame = 1<<(7*maxPrefixLen) - 1

// WriteFrame writes p as one frame. Small frames go out in a single Write,
// so one frame costs one transport message.
func WriteFrame(w io.Writer, p []byte) error {
	if len(p) > MaxFrame {
		return fmt.Errorf("write frame of %d bytes: %w", len(p), ErrFrameTooLarge)
	}
	if len(p) <= eagerAlloc {
		buf := make([]byte, 0, binary.MaxVarintLen32+len(p))
		buf = binary.AppendUvarint(buf, uint64(len(p)))
		buf = append(buf, p...)
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write frame: %w", err)
		}
		return nil
	}
	var prefix [binary.MaxVarintLen32]byte
	n := binary.PutUvarint(prefix[:], uint64(len(p)))
	if _, err := w.Write(prefix[:n]); err != nil {
		return fmt.Errorf("write frame prefix: %w", err)
	}
	if _, err := w.Write(p); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// ReadJSON reads one frame of at most max bytes and decodes it strictly
// into v: unknown fields and trailing data are errors.
func ReadJSON(r io.Reader, max int, v any) error {
	b, err := ReadFrame(r, max)
	if err != nil {
		return err
	}
	return DecodeJSON(b, v)
}

// DecodeJSON decodes b strictly into v: unknown fields and trailing data are
// ErrMalformedFrame.
func DecodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode json frame: %v: %w", err, ErrMalformedFrame)
	}
	if dec.More() {
		return fmt.Errorf("decode json frame: trailing data: %w", ErrMalformedFrame)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("decode json frame: trailing data: %w", ErrMalformedFrame)
	}
	return nil
}

// WriteJSON encodes v and writes it as one frame, refusing to send more
// than max bytes (the peer would reset the stream anyway).
func WriteJSON(w io.Writer, max int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode json frame: %w", err)
	}
	if len(b) > max {
		return fmt.Errorf("write json frame of %d bytes, cap %d: %w", len(b), max, ErrFrameTooLarge)
	}
	return WriteFrame(w, b)
}
