// Command notary is a demo agent: it returns the SHA-256 of its input and
// a timestamp-free, signature-ready digest of it, as one JSON line:
//
//	{"scheme":"agentnet/notary/v1","sha256":"<hex>","digest":"<hex>","length":<n>}
//
// The input is the arguments joined by single spaces, or stdin when there
// are none (never both), at most 1 MiB. sha256 is SHA-256(input); digest is
//
//	SHA-256("agentnet/notary/v1" || LP(input))
//
// where LP(x) is the length of x as a 4-byte big-endian integer followed by
// x: the length-prefix convention of the project's other transcripts
// (DESIGN.md §2.1). The domain string keeps the digest from colliding with
// any other hash the project signs; the length prefix makes the encoding
// unambiguous. There is no timestamp, so the same input always yields the
// same digest and anyone can recompute it; the result commitment and the
// node's signature of an agent run bind it to a moment and a node.
//
// A bad request (input over 1 MiB, arguments and stdin both) exits with
// status 2 and says why on stderr and as {"error": ...} on stdout.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"

	"github.com/agentnet/agentnode/agents/internal/input"
	"github.com/agentnet/agentnode/agents/internal/jsonenc"
	"github.com/agentnet/agentnode/agents/internal/notarize"
)

// MaxInput caps the input: 1 MiB fits the executor's default memory limit
// (16 MiB) many times over.
const MaxInput = 1 << 20

// Exit statuses.
const (
	exitOK     = 0
	exitUsage  = 2
	exitBroken = 3
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	data, err := input.Read(args, stdin, MaxInput)
	if err != nil {
		_, _ = io.WriteString(stderr, "notary: "+err.Error()+"\n")
		b := jsonenc.Key([]byte{'{'}, "error", true)
		b = jsonenc.String(b, err.Error())
		_, _ = stdout.Write(append(b, '}', '\n'))
		return exitUsage
	}
	if _, err := stdout.Write(appendAnswer(nil, data)); err != nil {
		_, _ = io.WriteString(stderr, "notary: write answer: "+err.Error()+"\n")
		return exitBroken
	}
	return exitOK
}

// appendAnswer renders the JSON answer for data and a newline.
func appendAnswer(b []byte, data []byte) []byte {
	sum := sha256.Sum256(data)
	digest := notarize.Digest(data)
	b = jsonenc.Key(append(b, '{'), "scheme", true)
	b = jsonenc.String(b, notarize.Scheme)
	b = jsonenc.Key(b, "sha256", false)
	b = jsonenc.String(b, hex.EncodeToString(sum[:]))
	b = jsonenc.Key(b, "digest", false)
	b = jsonenc.String(b, hex.EncodeToString(digest[:]))
	b = jsonenc.Key(b, "length", false)
	b = jsonenc.Int(b, int64(len(data)))
	return append(b, '}', '\n')
}
