package jsonenc

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain ascii", `"plain ascii"`},
		{`q"b\s`, `"q\"b\\s"`},
		{"nl\ncr\rtab\t", `"nl\ncr\rtab\t"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"héllo – 日本", `"héllo – 日本"`},
		{"bad\xffutf8\xc3", `"bad\ufffdutf8\ufffd"`},
		{"ls\u2028ps\u2029", `"ls\u2028ps\u2029"`},
		{"<b>&</b>", `"<b>&</b>"`},
	}
	for _, tt := range tests {
		if got := string(String(nil, tt.in)); got != tt.want {
			t.Errorf("String(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestValues(t *testing.T) {
	b := []byte{'{'}
	b = Key(b, "a", true)
	b = Int(b, -42)
	b = Key(b, "f", false)
	b = Float(b, 2.5, 3)
	b = Key(b, "nan", false)
	b = Float(b, math.NaN(), 1)
	b = Key(b, "s", false)
	b = Strings(b, []string{"x", "y\"z"})
	b = Key(b, "e", false)
	b = Strings(b, nil)
	b = append(b, '}')
	want := `{"a":-42,"f":2.500,"nan":0.0,"s":["x","y\"z"],"e":[]}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	if !json.Valid(b) {
		t.Fatal("not valid JSON")
	}
}

// FuzzString checks that any string encodes to valid JSON that decodes to
// the string with each invalid UTF-8 byte replaced by U+FFFD.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00\xff\u2028", "日本語", "\\u0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := String(nil, s)
		if !json.Valid(enc) {
			t.Fatalf("invalid JSON %q for %q", enc, s)
		}
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatal(err)
		}
		var want strings.Builder
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			want.WriteRune(r)
			i += n
		}
		if got != want.String() {
			t.Fatalf("round trip of %q: got %q, want %q", s, got, want.String())
		}
	})
}
