package input

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		stdin   string
		max     int
		want    string
		wantErr error
	}{
		{name: "args joined", args: []string{"hello", "big world"}, max: 100, want: "hello big world"},
		{name: "empty arg kept", args: []string{"a", "", "b"}, max: 100, want: "a  b"},
		{name: "stdin", stdin: "from\nstdin\x00", max: 100, want: "from\nstdin\x00"},
		{name: "empty stdin", max: 100, want: ""},
		{name: "stdin at cap", stdin: "12345", max: 5, want: "12345"},
		{name: "stdin over cap", stdin: "123456", max: 5, wantErr: ErrTooLarge},
		{name: "args at cap", args: []string{"ab", "cd"}, max: 5, want: "ab cd"},
		{name: "args over cap", args: []string{"abc", "cd"}, max: 5, wantErr: ErrTooLarge},
		{name: "both", args: []string{"x"}, stdin: "y", max: 100, wantErr: ErrBoth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(tt.args, strings.NewReader(tt.stdin), tt.max)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if got != nil {
					t.Fatalf("got %q with error", got)
				}
				return
			}
			if string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadStdinError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Read(nil, io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(boom)), 100)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "read standard input") {
		t.Fatalf("err = %v", err)
	}
}

func TestCapMessage(t *testing.T) {
	_, err := Read(nil, bytes.NewReader(make([]byte, 11)), 10)
	if err == nil || !strings.Contains(err.Error(), "cap of 10 bytes") {
		t.Fatalf("err = %v", err)
	}
}
