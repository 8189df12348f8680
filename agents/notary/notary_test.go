package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/agents/internal/notarize"
)

type answer struct {
	Scheme string `json:"scheme"`
	SHA256 string `json:"sha256"`
	Digest string `json:"digest"`
	Length int    `json:"length"`
	Error  string `json:"error"`
}

func runAgent(t *testing.T, stdin []byte, args ...string) (int, answer, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, bytes.NewReader(stdin), &out, &errOut)
	var a answer
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatalf("stdout %q: %v", out.String(), err)
	}
	if !bytes.HasSuffix(out.Bytes(), []byte("}\n")) {
		t.Fatalf("stdout %q does not end in one newline", out.String())
	}
	return code, a, errOut.String()
}

// TestDigestVectors pins the digest format with vectors computed outside
// Go from the documented layout (printf '<bytes>' | sha256sum), so that a
// change of format cannot pass.
func TestDigestVectors(t *testing.T) {
	tests := []struct{ in, digest string }{
		// sha256("agentnet/notary/v1" || 00000000)
		{"", "7028f32d0fbc4760106fb52e53f022bfeda6c331ae6d6d2fd4459135dbc231db"},
		// sha256("agentnet/notary/v1" || 0000000b || "hello world")
		{"hello world", "57b38ffe99f304968626040e0020a750ae4fa019c082e9b4e496cb9b8d9e4dc7"},
	}
	for _, tt := range tests {
		got := notarize.Digest([]byte(tt.in))
		if hex.EncodeToString(got[:]) != tt.digest || manual(tt.in) != tt.digest {
			t.Errorf("Digest(%q) = %x, manual %s, want %s", tt.in, got, manual(tt.in), tt.digest)
		}
	}
}

// manual computes the digest by concatenating the documented bytes.
func manual(in string) string {
	var buf bytes.Buffer
	buf.WriteString("agentnet/notary/v1")
	n := len(in)
	buf.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	buf.WriteString(in)
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

func TestRun(t *testing.T) {
	code, a, stderr := runAgent(t, nil, "hello", "world")
	sum := sha256.Sum256([]byte("hello world"))
	if code != exitOK || stderr != "" || a.Scheme != notarize.Scheme || a.SHA256 != hex.EncodeToString(sum[:]) ||
		a.Length != 11 || a.Digest != manual("hello world") {
		t.Fatalf("args: code %d %+v %q", code, a, stderr)
	}
	// The same bytes on stdin give the same answer.
	code, b, _ := runAgent(t, []byte("hello world"))
	if code != exitOK || b != a {
		t.Fatalf("stdin answer %+v differs from args answer %+v", b, a)
	}
	// Binary input and the empty input.
	bin := []byte{0, 0xff, '\n', 0x80}
	code, c, _ := runAgent(t, bin)
	binSum := sha256.Sum256(bin)
	if code != exitOK || c.SHA256 != hex.EncodeToString(binSum[:]) || c.Length != 4 || c.Digest != manual(string(bin)) {
		t.Fatalf("binary: %+v", c)
	}
	code, e, _ := runAgent(t, nil)
	if code != exitOK || e.Length != 0 || e.SHA256 != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty: %+v", e)
	}
	// Exactly at the cap.
	big := bytes.Repeat([]byte{'x'}, MaxInput)
	code, f, _ := runAgent(t, big)
	if code != exitOK || f.Length != MaxInput || f.Digest != manual(string(big)) {
		t.Fatalf("1 MiB: code %d length %d", code, f.Length)
	}
}

func TestRunErrors(t *testing.T) {
	code, a, stderr := runAgent(t, make([]byte, MaxInput+1))
	if code != exitUsage || !strings.Contains(a.Error, "cap of 1048576 bytes") || !strings.Contains(stderr, "notary:") || a.Digest != "" {
		t.Fatalf("over cap: %d %+v %q", code, a, stderr)
	}
	code, a, _ = runAgent(t, []byte("stdin"), "args")
	if code != exitUsage || !strings.Contains(a.Error, "both") {
		t.Fatalf("both: %d %+v", code, a)
	}
}

// FuzzDigest checks Digest against the byte-by-byte construction for any
// input.
func FuzzDigest(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("hello world"))
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		got := notarize.Digest(in)
		if hex.EncodeToString(got[:]) != manual(string(in)) {
			t.Fatalf("Digest(%x) mismatch", in)
		}
		var out bytes.Buffer
		if code := run(nil, bytes.NewReader(in), &out, &bytes.Buffer{}); code != exitOK || !json.Valid(out.Bytes()) {
			t.Fatalf("run: code %d, %q", code, out.String())
		}
	})
}

func BenchmarkDigest1MiB(b *testing.B) {
	data := make([]byte, MaxInput)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		notarize.Digest(data)
	}
}
