// Command textstats is a demo agent: it returns statistics of its input
// text as one JSON line: bytes, characters, words, unique words, lines,
// paragraphs, sentences, average word and sentence lengths, the ten most
// frequent words that are not stopwords, and a reading-time estimate.
//
// The input is the arguments joined by single spaces, or stdin when there
// are none (never both), at most 1 MiB; invalid UTF-8 bytes count as one
// character each. The definitions are in [Analyze]. A bad request exits
// with status 2 and says why on stderr and as {"error": ...} on stdout.
package main

import (
	"io"
	"os"

	"github.com/agentnet/agentnode/agents/internal/input"
	"github.com/agentnet/agentnode/agents/internal/jsonenc"
)

// MaxInput caps the input text.
const MaxInput = 1 << 20

// Exit statuses.
const (
	exitOK     = 0
	exitUsage  = 2
	exitBroken = 3
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	text, err := input.Read(args, stdin, MaxInput)
	if err != nil {
		_, _ = io.WriteString(stderr, "textstats: "+err.Error()+"\n")
		b := jsonenc.Key([]byte{'{'}, "error", true)
		b = jsonenc.String(b, err.Error())
		_, _ = stdout.Write(append(b, '}', '\n'))
		return exitUsage
	}
	if _, err := stdout.Write(Analyze(string(text)).AppendJSON(nil)); err != nil {
		_, _ = io.WriteString(stderr, "textstats: write answer: "+err.Error()+"\n")
		return exitBroken
	}
	return exitOK
}
