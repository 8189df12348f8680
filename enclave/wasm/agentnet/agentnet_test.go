package agentnet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/enclave/wasm/agentnet"
	"github.com/agentnet/agentnode/enclave/wasm/agentnet/agentnettest"
)

// fakeNet is the network of these tests: an echo agent, a priced arxiv agent, a slow one
// and a broken one.
func fakeNet() *agentnettest.Network {
	return &agentnettest.Network{Agents: []agentnettest.Agent{
		{Agent: agentnet.Agent{Peer: "peerA", Agent: "echo", Description: "echoes its input", Price: "0", Platform: "sim"}},
		{Agent: agentnet.Agent{Peer: "peerB", Agent: "arxiv", Description: "arxiv papers: answers queries from a catalogue", Price: "10000", Platform: "sim"},
			Answer: func(in []byte) ([]byte, uint32) {
				return []byte("1. Attention Is All You Need (2017) for " + string(in) + "\n"), 0
			}},
		{Agent: agentnet.Agent{Peer: "peerB", Agent: "slow", Description: "takes its time", Price: "0", Platform: "sim"}, Delay: time.Minute},
		{Agent: agentnet.Agent{Peer: "peerC", Agent: "broken", Description: "fails", Price: "0", Platform: "sim"},
			Err: errors.New("peer peerC: trap: unreachable")},
		{Agent: agentnet.Agent{Peer: "peerC", Agent: "exit3", Description: "exits 3", Price: "0", Platform: "sim"},
			Answer: func([]byte) ([]byte, uint32) { return []byte("bad input\n"), 3 }},
	}}
}

// executor returns an executor with the agentnet module over nw.
func executor(t testing.TB, nw agentnet.Network, cfg agentnet.Config, timeout time.Duration) *wasm.Executor {
	t.Helper()
	cfg.Network = nw
	m, err := agentnet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := wasm.New(context.Background(), wasm.Config{Timeout: timeout, HostModules: []wasm.HostModule{m}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

// runGuest runs module with stdin in run (nil: no run in the context).
func runGuest(t testing.TB, e *wasm.Executor, module []byte, stdin string, run *agentnet.Run) *wasm.Result {
	t.Helper()
	m, err := e.Compile(context.Background(), module)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if run != nil {
		ctx = agentnet.WithRun(ctx, run)
	}
	res, err := e.Run(ctx, m, wasm.Input{Stdin: []byte(stdin)})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func TestRelay(t *testing.T) {
	nw := fakeNet()
	e := executor(t, nw, agentnet.Config{}, 5*time.Second)
	for _, tc := range []struct {
		name, stdin string
		run         *agentnet.Run
		out         string
		exit        uint32
	}{
		{"echo", "peerA/echo\n", agentnet.NewRun(agentnet.RunConfig{Caller: "relay"}), "relay > peerA/echo", 0},
		{"callee exit code", "peerC/exit3", agentnet.NewRun(agentnet.RunConfig{Caller: "relay"}), "relay > bad input\n", 3},
		{"unknown agent", "peerA/nope", agentnet.NewRun(agentnet.RunConfig{}),
			"relay: error -2: call peerA/nope: agent not found: no agent nope on peerA\n", 2},
		{"bad target", "no-slash", agentnet.NewRun(agentnet.RunConfig{}),
			"relay: error -1: bad argument: target \"no-slash\" is not peer/name\n", 1},
		{"priced over max_price 0", "peerB/arxiv", agentnet.NewRun(agentnet.RunConfig{Budget: 1 << 40}),
			"relay: error -3: call peerB/arxiv: payment denied: peerB/arxiv costs 10000, over this call's limit 0\n", 3},
		{"depth limit", "peerA/echo", agentnet.NewRun(agentnet.RunConfig{Depth: 3}),
			"relay: error -4: call depth limit reached: this agent runs at depth 3 and this node allows calls 3 deep\n", 4},
		{"remote error", "peerC/broken", agentnet.NewRun(agentnet.RunConfig{}),
			"relay: error -5: call peerC/broken: peer peerC: trap: unreachable\n", 5},
		{"no run: a module that is no deployed agent", "peerA/echo", nil, "relay: error -8\n", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(nw.Calls())
			res := runGuest(t, e, agentnettest.Relay, tc.stdin, tc.run)
			if string(res.Stdout) != tc.out || res.ExitCode != tc.exit {
				t.Fatalf("got exit %d %q, want exit %d %q", res.ExitCode, res.Stdout, tc.exit, tc.out)
			}
			reached := len(nw.Calls()) > before
			if want := tc.exit == 0 || tc.exit == 2 || tc.exit == 3 || tc.exit == 5; reached != want {
				t.Errorf("network reached: %v, want %v", reached, want)
			}
		})
	}
	// The calls carried the caller and the callee's depth.
	c := nw.Calls()[0]
	if c.Caller != "relay" || c.Depth != 1 || c.Peer != "peerA" || c.Agent != "echo" || string(c.Input) != "peerA/echo" || c.MaxPrice != 0 {
		t.Fatalf("first request %+v", c)
	}
}

// TestExample runs the docs' WAT example: search, call_best within the budget, output and
// receipt; and the same under a budget below the price, which fails inside the guest
// with -3 and pays nothing.
func TestExample(t *testing.T) {
	nw := fakeNet()
	e := executor(t, nw, agentnet.Config{}, 5*time.Second)
	run := agentnet.NewRun(agentnet.RunConfig{Caller: "example", Budget: 25000})
	res := runGuest(t, e, agentnettest.Example, "", run)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stdout)
	}
	lines := strings.Split(string(res.Stdout), "\n")
	var found []agentnet.Agent
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[0], "found: ")), &found); err != nil || len(found) != 1 ||
		found[0].Agent != "arxiv" || found[0].Price != "10000" || found[0].Peer != "peerB" || found[0].Score <= 0 {
		t.Fatalf("search line %q: %v %+v", lines[0], err, found)
	}
	if lines[1] != "answer: 1. Attention Is All You Need (2017) for attention" {
		t.Fatalf("answer line %q", lines[1])
	}
	var rc struct {
		Peer, Agent, Commitment, Paid, Transaction, Platform string
		Verified                                             bool
		ExitCode                                             uint32 `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[3], "receipt: ")), &rc); err != nil ||
		rc.Peer != "peerB" || rc.Agent != "arxiv" || rc.Paid != "10000" || !rc.Verified || len(rc.Commitment) != 64 || rc.Transaction == "" {
		t.Fatalf("receipt line %q: %v %+v", lines[3], err, rc)
	}
	if run.Spent() != 10000 || run.Calls() != 2 {
		t.Fatalf("spent %d in %d calls", run.Spent(), run.Calls())
	}
	if last := nw.Calls()[len(nw.Calls())-1]; last.MaxPrice != 10000 || last.Query != "arxiv papers about attention" || last.Caller != "example" {
		t.Fatalf("call_best request %+v", last)
	}

	// A budget below the price: the best match is over the limit, so the call is denied
	// inside the guest (exit 3) and nothing is paid.
	poor := agentnet.NewRun(agentnet.RunConfig{Caller: "example", Budget: 9999})
	res = runGuest(t, e, agentnettest.Example, "", poor)
	if res.ExitCode != 3 || poor.Spent() != 0 || !strings.Contains(poor.LastError(), "payment denied") {
		t.Fatalf("poor run: exit %d, spent %d, last error %q, out %q", res.ExitCode, poor.Spent(), poor.LastError(), res.Stdout)
	}
	if last := nw.Calls()[len(nw.Calls())-1]; last.MaxPrice != 9999 {
		t.Fatalf("the call's limit is %d, want the remaining budget 9999", last.MaxPrice)
	}
}

// TestCommittedModules checks testdata/*.wasm against a fresh wat2wasm build of the .wat
// beside it, when wabt is installed.
func TestCommittedModules(t *testing.T) {
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm not installed (Debian: wabt)")
	}
	for _, name := range []string{"relay", "example"} {
		src := filepath.Join("agentnettest", "testdata", name+".wat")
		out := filepath.Join(t.TempDir(), name+".wasm")
		if b, err := exec.Command(tool, "-o", out, src).CombinedOutput(); err != nil {
			t.Fatalf("wat2wasm %s: %v\n%s", src, err, b)
		}
		fresh, _ := os.ReadFile(out)
		committed, _ := os.ReadFile(filepath.Join("agentnettest", "testdata", name+".wasm"))
		if !bytes.Equal(fresh, committed) {
			t.Errorf("%s.wasm is stale: run go generate ./enclave/wasm/agentnet/agentnettest", name)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []agentnet.Config{{MaxDepth: 17}, {MaxDepth: -1}, {MaxHandles: -1}, {MaxInputBytes: -5}} {
		if _, err := agentnet.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	m, err := agentnet.New(agentnet.Config{})
	if err != nil || m.Name() != "agentnet" || m.MaxDepth() != agentnet.DefaultMaxDepth {
		t.Fatalf("defaults: %v %v", m, err)
	}
}

func TestCode(t *testing.T) {
	for err, want := range map[error]int32{
		nil: 0, agentnet.ErrBadArgument: -1, agentnet.ErrNotFound: -2, agentnet.ErrDenied: -3, agentnet.ErrDepth: -4,
		agentnet.ErrRemote: -5, agentnet.ErrTimeout: -6, agentnet.ErrBufferTooSmall: -7, agentnet.ErrUnavailable: -8,
		agentnet.ErrLimit: -9, context.DeadlineExceeded: -6, errors.New("something else"): -5,
	} {
		if got := agentnet.Code(err); got != want {
			t.Errorf("Code(%v) = %d, want %d", err, got, want)
		}
		if want < 0 && agentnet.CodeName(want) == "" {
			t.Errorf("code %d has no name", want)
		}
	}
}
