package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/agentnet/agentnode/agents/agentnet"
	"github.com/agentnet/agentnode/agents/internal/input"
	"github.com/agentnet/agentnode/agents/internal/notarize"
)

// Find is the description the agent searches for: what the arxiv agent's card says.
const Find = "arxiv papers"

// MaxQuery caps the query, as the arxiv agent does.
const MaxQuery = 4 << 10

// Exit statuses.
const (
	exitOK         = 0
	exitUsage      = 2
	exitCalleeFail = 4
	exitCallBase   = 10 // + |ABI code|
)

const usage = `usage: agent [--target peer/name] [--max-price N] [--] query words...
Finds the agent answering queries about arXiv papers, pays it and returns its
answer with a summary and a notary digest.
  --target peer/name   call this agent instead of the best match
  --max-price N        pay at most N atomic units (default: the remaining budget)
`

// Net is what the agent needs from the host: the agentnet functions.
type Net interface {
	CallBest(query string, input []byte, maxPrice uint64) (*agentnet.Result, error)
	Call(target string, input []byte, maxPrice uint64) (*agentnet.Result, error)
	Budget() (uint64, error)
}

// request is a parsed command line.
type request struct {
	target   string
	maxPrice uint64
	priced   bool
	words    []string
}

func parse(args []string) (*request, error) {
	r := &request{}
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--":
			r.words = args[1:]
			return r, nil
		case a == "--target" || a == "--max-price":
			if len(args) < 2 {
				return nil, errors.New(a + " needs a value")
			}
			if a == "--target" {
				r.target = args[1]
			} else {
				n, err := strconv.ParseUint(args[1], 10, 64)
				if err != nil {
					return nil, errors.New("--max-price " + strconv.Quote(args[1]) + ": want a non-negative integer")
				}
				r.maxPrice, r.priced = n, true
			}
			args = args[2:]
		case strings.HasPrefix(a, "--"):
			return nil, errors.New("unknown flag " + a)
		default:
			r.words = args
			return r, nil
		}
	}
	return r, nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, net Net) int {
	req, err := parse(args)
	if err != nil {
		_, _ = io.WriteString(stderr, "research: "+err.Error()+"\n"+usage)
		return exitUsage
	}
	q, err := input.Read(req.words, stdin, MaxQuery)
	if err != nil {
		_, _ = io.WriteString(stderr, "research: "+err.Error()+"\n")
		return exitUsage
	}
	query := strings.TrimSpace(string(q))
	if query == "" {
		_, _ = io.WriteString(stderr, "research: empty query\n"+usage)
		return exitUsage
	}
	maxPrice := req.maxPrice
	if !req.priced {
		if maxPrice, err = net.Budget(); err != nil {
			return callFailed(stdout, stderr, err)
		}
	}
	var res *agentnet.Result
	if req.target != "" {
		res, err = net.Call(req.target, []byte(query), maxPrice)
	} else {
		res, err = net.CallBest(Find, []byte(query), maxPrice)
	}
	if err != nil {
		return callFailed(stdout, stderr, err)
	}
	_, _ = stdout.Write(Combine(query, res))
	if res.ExitCode != 0 {
		return exitCalleeFail
	}
	return exitOK
}

// callFailed reports a failed host call and returns its exit status.
func callFailed(stdout, stderr io.Writer, err error) int {
	line := "research: call failed: " + err.Error() + "\n"
	_, _ = io.WriteString(stdout, line)
	_, _ = io.WriteString(stderr, line)
	var e *agentnet.Error
	if errors.As(err, &e) && e.Code < 0 {
		return exitCallBase - int(e.Code)
	}
	return exitCallBase
}

// Combine is the agent's answer for query given the callee's result: a header naming
// who answered and what it cost, the callee's output, a summary line, and the notary
// digest of everything before it.
func Combine(query string, r *agentnet.Result) []byte {
	var b bytes.Buffer
	b.WriteString("research: " + strconv.Quote(query) + " answered by " + r.Agent + " on " + r.Peer +
		": paid " + orZero(r.Paid) + ", exit " + strconv.FormatUint(uint64(r.ExitCode), 10))
	if r.Verified {
		b.WriteString(", verified")
	} else {
		b.WriteString(", NOT verified")
	}
	b.WriteString(", commitment " + hex.EncodeToString(r.Commitment[:]) + "\n")
	b.Write(r.Output)
	if len(r.Output) > 0 && r.Output[len(r.Output)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString(Summary(r.Agent, r.Output) + "\n")
	d := notarize.Digest(b.Bytes())
	b.WriteString("notary digest: " + hex.EncodeToString(d[:]) + " (SHA-256(\"" + notarize.Scheme + "\" || LP(the lines above)))\n")
	return b.Bytes()
}

// Summary is one line about the callee's output: its size and its top result (the
// first line numbered "1.", else the first non-empty line).
func Summary(agent string, out []byte) string {
	text := string(out)
	lines := strings.Count(text, "\n")
	if len(text) > 0 && !strings.HasSuffix(text, "\n") {
		lines++
	}
	s := "summary: " + strconv.Itoa(lines) + " lines, " + strconv.Itoa(len(strings.Fields(text))) + " words from " + agent
	top := ""
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "1. ") {
			top = l
			break
		}
		if top == "" && l != "" {
			top = l
		}
	}
	if top != "" {
		if len(top) > 120 {
			top = strings.ToValidUTF8(top[:117], "") + "..."
		}
		s += "; top result: " + top
	}
	return s
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
