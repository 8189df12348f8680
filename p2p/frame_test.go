package p2p

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, eagerAlloc, eagerAlloc + 1, 1 << 20} {
		p := bytes.Repeat([]byte{0xab}, n)
		var buf bytes.Buffer
		if err := WriteFrame(&buf, p); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFrame(&buf, n)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("n=%d: %v", n, err)
		}
		if buf.Len() != 0 {
			t.Fatalf("n=%d: %d bytes left over", n, buf.Len())
		}
	}
}

func TestReadFrameErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"empty stream", nil, 10, io.EOF},
		{"over cap", []byte{11}, 10, ErrFrameTooLarge},
		{"huge prefix", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 1 << 30, ErrFrameTooLarge},
		{"non-minimal prefix", []byte{0x81, 0x00, 'a'}, 10, ErrMalformedFrame},
		{"cut prefix", []byte{0x81}, 1000, ErrMalformedFrame},
		{"cut body", []byte{5, 'a', 'b'}, 10, ErrMalformedFrame},
		{"cut large body", append([]byte{0x80, 0x80, 0x08}, make([]byte, 100)...), 1 << 20, ErrMalformedFrame},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tc.in), tc.max)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadFrameOneByteReads(t *testing.T) {
	var buf bytes.Buffer
	_ = WriteFrame(&buf, []byte("hello"))
	_ = WriteFrame(&buf, []byte("world"))
	r := iotest.OneByteReader(&buf)
	for _, want := range []string{"hello", "world"} {
		got, err := ReadFrame(r, 5)
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v", got, err)
		}
	}
}

func TestJSONFrames(t *testing.T) {
	type msg struct {
		A int `json:"a"`
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, 100, msg{A: 7}); err != nil {
		t.Fatal(err)
	}
	var m msg
	if err := ReadJSON(&buf, 100, &m); err != nil || m.A != 7 {
		t.Fatalf("got %+v, %v", m, err)
	}
	if err := WriteJSON(&buf, 3, msg{A: 7}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized write: %v", err)
	}
	for _, bad := range []string{`{"a":1,"b":2}`, `{"a":1} {}`, `{"a":`, `{"a":"x"}`, `[]`} {
		if err := DecodeJSON([]byte(bad), &m); !errors.Is(err, ErrMalformedFrame) {
			t.Errorf("DecodeJSON(%s) = %v", bad, err)
		}
	}
	if err := DecodeJSON([]byte(" {\"a\":1} \n"), &m); err != nil {
		t.Fatalf("whitespace refused: %v", err)
	}
}

// FuzzReadFrame feeds arbitrary bytes to the frame reader: it never
// panics, never returns more than the cap, and what it returns re-encodes
// to the bytes it consumed.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{3, 'a', 'b', 'c'}, uint16(10))
	f.Add([]byte{0x80, 0x01}, uint16(200))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff}, uint16(65535))
	f.Add([]byte{0x81, 0x00}, uint16(10))
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, max uint16) {
		r := bytes.NewReader(in)
		got, err := ReadFrame(r, int(max))
		if err != nil {
			return
		}
		if len(got) > int(max) {
			t.Fatalf("frame of %d bytes over cap %d", len(got), max)
		}
		var buf bytes.Buffer
		_ = WriteFrame(&buf, got)
		consumed := in[:len(in)-r.Len()]
		if !bytes.Equal(buf.Bytes(), consumed) {
			t.Fatalf("re-encoding %x differs from input %x", buf.Bytes(), consumed)
		}
	})
}

// FuzzDecodeJSON checks the strict JSON frame decoder never panics and
// accepts only what re-decodes.
func FuzzDecodeJSON(f *testing.F) {
	f.Add(`{"status":200,"headers":{"a":"b"},"body":{}}`)
	f.Add(`{"status":1e400}`)
	f.Add(strings.Repeat("[", 10000))
	f.Fuzz(func(t *testing.T, s string) {
		var v struct {
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
			Body    any               `json:"body"`
		}
		_ = DecodeJSON([]byte(s), &v)
	})
}
