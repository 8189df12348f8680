package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/agents/agentnet"
	"github.com/agentnet/agentnode/agents/internal/notarize"
	"github.com/agentnet/agentnode/enclave/wasm"
	hostnet "github.com/agentnet/agentnode/enclave/wasm/agentnet"
	"github.com/agentnet/agentnode/enclave/wasm/agentnet/agentnettest"
)

// fakeNet answers like the arxiv agent, or fails with err.
type fakeNet struct {
	budget   uint64
	err      error
	exit     uint32
	query    string
	target   string
	input    string
	maxPrice uint64
}

func (f *fakeNet) result() *agentnet.Result {
	r := &agentnet.Result{Output: []byte("5 of 7 matching papers\n\n1. Attention Is All You Need (2017)\n   Ashish Vaswani\n"),
		ExitCode: f.exit, Verified: true, Peer: "12D3KooWpeer", Agent: "arxiv", Paid: "10000"}
	r.Commitment[0] = 0xab
	return r
}

func (f *fakeNet) CallBest(query string, input []byte, maxPrice uint64) (*agentnet.Result, error) {
	f.query, f.input, f.maxPrice = query, string(input), maxPrice
	if f.err != nil {
		return nil, f.err
	}
	return f.result(), nil
}

func (f *fakeNet) Call(target string, input []byte, maxPrice uint64) (*agentnet.Result, error) {
	f.target, f.input, f.maxPrice = target, string(input), maxPrice
	if f.err != nil {
		return nil, f.err
	}
	return f.result(), nil
}

func (f *fakeNet) Budget() (uint64, error) { return f.budget, nil }

func runWith(net Net, stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb, net)
	return code, out.String(), errb.String()
}

func TestAnswer(t *testing.T) {
	net := &fakeNet{budget: 12000}
	code, out, _ := runWith(net, "", "papers", "about", "attention")
	if code != 0 || net.query != Find || net.input != "papers about attention" || net.maxPrice != 12000 {
		t.Fatalf("exit %d, request %+v", code, net)
	}
	checkAnswer(t, out, `research: "papers about attention" answered by arxiv on 12D3KooWpeer: paid 10000, exit 0, verified, commitment ab00`)
	if !strings.Contains(out, "\nsummary: 4 lines, 14 words from arxiv; top result: 1. Attention Is All You Need (2017)\n") {
		t.Fatalf("summary:\n%s", out)
	}

	// --target and --max-price; the query from stdin.
	net = &fakeNet{budget: 12000}
	code, _, _ = runWith(net, "diffusion\n", "--target", "12D3KooWx/arxiv", "--max-price", "500")
	if code != 0 || net.target != "12D3KooWx/arxiv" || net.maxPrice != 500 || net.input != "diffusion" {
		t.Fatalf("exit %d, request %+v", code, net)
	}
	// A callee that failed: its answer is combined, the status is 4.
	if code, out, _ = runWith(&fakeNet{exit: 2}, "", "x"); code != exitCalleeFail || !strings.Contains(out, "exit 2") {
		t.Fatalf("callee failure: %d %q", code, out)
	}
}

// checkAnswer checks the header line and that the last line is the notary digest of
// everything before it.
func checkAnswer(t *testing.T, out, header string) {
	t.Helper()
	if !strings.HasPrefix(out, header) {
		t.Fatalf("answer does not start with %q:\n%s", header, out)
	}
	i := strings.LastIndex(out, "notary digest: ")
	if i < 0 {
		t.Fatalf("no digest:\n%s", out)
	}
	d := notarize.Digest([]byte(out[:i]))
	if got := out[i+len("notary digest: "):][:64]; got != hex.EncodeToString(d[:]) {
		t.Fatalf("digest %s does not match the text above it", got)
	}
}

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{&agentnet.Error{Code: agentnet.CodeDenied, Message: "payer policy refused"}, 13},
		{&agentnet.Error{Code: agentnet.CodeNotFound}, 12},
		{&agentnet.Error{Code: agentnet.CodeDepth}, 14},
		{&agentnet.Error{Code: agentnet.CodeTimeout}, 16},
		{errors.New("odd"), 10},
	} {
		code, out, _ := runWith(&fakeNet{err: tc.err}, "", "q")
		if code != tc.code || out != "research: call failed: "+tc.err.Error()+"\n" {
			t.Errorf("%v: exit %d, %q", tc.err, code, out)
		}
	}
	for _, args := range [][]string{{"--nope", "q"}, {"--max-price", "-1", "q"}, {"--target"}, {}} {
		if code, _, _ := runWith(&fakeNet{}, "", args...); code != exitUsage {
			t.Errorf("%q: exit %d", args, code)
		}
	}
	if code, _, _ := runWith(&fakeNet{}, "stdin too", "args"); code != exitUsage {
		t.Errorf("args and stdin: exit %d", code)
	}
	// Natively there is no host: the real network is unavailable.
	if code, out, _ := runWith(hostNet{}, "", "q"); code != 18 || !strings.Contains(out, "unavailable (-8)") {
		t.Errorf("native host: exit %d %q", code, out)
	}
}

func TestSummary(t *testing.T) {
	for out, want := range map[string]string{
		"":                       "summary: 0 lines, 0 words from a",
		"only line":              "summary: 1 lines, 2 words from a; top result: only line",
		"head\n\n1. First\n2. B": "summary: 4 lines, 5 words from a; top result: 1. First",
	} {
		if got := Summary("a", []byte(out)); got != want {
			t.Errorf("Summary(%q) = %q, want %q", out, got, want)
		}
	}
}

// The committed module, through the real executor and the agentnet host module over a
// fake network: the Go guest bindings (agents/agentnet) against the host.
var guest struct {
	once sync.Once
	exec *wasm.Executor
	mod  *wasm.Module
	net  *agentnettest.Network
	err  error
}

func module(t *testing.T) (*wasm.Executor, *wasm.Module, *agentnettest.Network) {
	t.Helper()
	guest.once.Do(func() {
		guest.net = &agentnettest.Network{Agents: []agentnettest.Agent{
			{Agent: hostnet.Agent{Peer: "12D3KooWarxiv", Agent: "arxiv", Description: "finds arxiv papers", Price: "10000", Platform: "sim"},
				Answer: func(in []byte) ([]byte, uint32) {
					return []byte("1. Attention Is All You Need (2017)\nquery: " + string(in) + "\n"), 0
				}},
		}}
		m, err := hostnet.New(hostnet.Config{Network: guest.net})
		if err != nil {
			guest.err = err
			return
		}
		if guest.exec, guest.err = wasm.New(context.Background(), wasm.Config{Timeout: 20 * time.Second, HostModules: []wasm.HostModule{m}}); guest.err != nil {
			return
		}
		b, err := os.ReadFile("agent.wasm")
		if err != nil {
			guest.err = err
			return
		}
		guest.mod, guest.err = guest.exec.Compile(context.Background(), b)
	})
	if guest.err != nil {
		t.Fatal(guest.err)
	}
	return guest.exec, guest.mod, guest.net
}

func TestModule(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a Go guest")
	}
	e, m, _ := module(t)
	runGuest := func(run *hostnet.Run, args ...string) *wasm.Result {
		ctx := context.Background()
		if run != nil {
			ctx = hostnet.WithRun(ctx, run)
		}
		res, err := e.Run(ctx, m, wasm.Input{Args: args})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	run := hostnet.NewRun(hostnet.RunConfig{Caller: "research", Budget: 10000})
	res := runGuest(run, "attention")
	if res.ExitCode != 0 || run.Spent() != 10000 {
		t.Fatalf("exit %d, spent %d: %s %s", res.ExitCode, run.Spent(), res.Stdout, res.Stderr)
	}
	checkAnswer(t, string(res.Stdout), `research: "attention" answered by arxiv on 12D3KooWarxiv: paid 10000, exit 0, verified, commitment `)
	if !strings.Contains(string(res.Stdout), "\nquery: attention\nsummary: 2 lines, 9 words from arxiv; top result: 1. Attention Is All You Need (2017)\n") {
		t.Fatalf("answer:\n%s", res.Stdout)
	}

	poor := hostnet.NewRun(hostnet.RunConfig{Caller: "research", Budget: 9999})
	res = runGuest(poor, "attention")
	if res.ExitCode != 13 || poor.Spent() != 0 || !strings.HasPrefix(string(res.Stdout), "research: call failed: agentnet: denied (-3): call best match: payment denied: every match") {
		t.Fatalf("over budget: exit %d, spent %d: %s", res.ExitCode, poor.Spent(), res.Stdout)
	}
	res = runGuest(nil, "attention")
	if res.ExitCode != 18 || string(res.Stdout) != "research: call failed: agentnet: unavailable (-8)\n" {
		t.Fatalf("no run: exit %d: %s", res.ExitCode, res.Stdout)
	}
}
