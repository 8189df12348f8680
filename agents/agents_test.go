package agents_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/agents"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/enclave/wasm/agentnet"
	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/p2p/card"
	"github.com/agentnet/agentnode/p2p/discovery"
)

// The executor is shared by the tests of this package: compiling a Go
// guest takes about a second (several under -race), so each module is
// compiled once. Its Config is the node's defaults (256 memory pages, 5 s,
// 1 MiB of output) with the agentnet host module.
var shared struct {
	once    sync.Once
	exec    *wasm.Executor
	err     error
	mu      sync.Mutex
	modules map[string]*wasm.Module
}

func module(t testing.TB, name string) (*wasm.Executor, *wasm.Module) {
	t.Helper()
	shared.once.Do(func() {
		// The agentnet host module without a network: research's calls fail
		// with "unavailable" here; agents/research tests them against a fake
		// network, node tests against real nodes.
		an, err := agentnet.New(agentnet.Config{})
		if err != nil {
			shared.err = err
			return
		}
		shared.exec, shared.err = wasm.New(context.Background(), wasm.Config{HostModules: []wasm.HostModule{an}})
		shared.modules = map[string]*wasm.Module{}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if m := shared.modules[name]; m != nil {
		return shared.exec, m
	}
	a, ok := agents.Get(name)
	if !ok {
		t.Fatalf("no agent %q", name)
	}
	start := time.Now()
	m, err := shared.exec.Compile(context.Background(), a.Module)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	t.Logf("compiled %s (%d bytes) in %v", name, len(a.Module), time.Since(start).Round(time.Millisecond))
	shared.modules[name] = m
	return shared.exec, m
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.exec != nil {
		_ = shared.exec.Close(context.Background())
	}
	os.Exit(code)
}

// call runs agent name with args and stdin through the executor.
func call(t *testing.T, name, stdin string, args ...string) *wasm.Result {
	t.Helper()
	e, m := module(t, name)
	res, err := e.Run(context.Background(), m, wasm.Input{Args: args, Stdin: []byte(stdin)})
	if err != nil {
		t.Fatalf("run %s %q: %v", name, args, err)
	}
	return res
}

func decode(t *testing.T, res *wasm.Result, v any) {
	t.Helper()
	if err := json.Unmarshal(res.Stdout, v); err != nil {
		t.Fatalf("stdout %q: %v (stderr %q)", res.Stdout, err, res.Stderr)
	}
}

func TestArxiv(t *testing.T) {
	res := call(t, "arxiv", "", "arxiv", "papers", "about", "attention")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	first := "\n1. Attention Is All You Need (2017)\n"
	if !bytes.Contains(res.Stdout, []byte(first)) || !bytes.Contains(res.Stdout, []byte("arXiv:1706.03762")) {
		t.Fatalf("text answer does not start with the Transformer paper:\n%s", res.Stdout)
	}

	var ans struct {
		Terms   []string
		Total   int
		Results []struct {
			ID, Title, URL string
			Year           int
			Authors        []string
		}
	}
	res = call(t, "arxiv", "papers about attention", "--json", "--limit", "3")
	decode(t, res, &ans)
	if len(ans.Results) != 3 || ans.Results[0].ID != "1706.03762" || ans.Results[0].Authors[0] != "Ashish Vaswani" {
		t.Fatalf("JSON answer %+v", ans)
	}
	for _, r := range ans.Results {
		if !strings.Contains(strings.ToLower(r.Title), "attention") {
			t.Errorf("%s %q ranks in the top 3 for attention", r.ID, r.Title)
		}
	}

	res = call(t, "arxiv", "")
	if res.ExitCode != 2 || len(res.Stdout) != 0 || !bytes.Contains(res.Stderr, []byte("empty query")) {
		t.Fatalf("empty query: exit %d, stdout %q, stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	res = call(t, "arxiv", "", "--json", "--nope")
	var e struct{ Error string }
	decode(t, res, &e)
	if res.ExitCode != 2 || !strings.Contains(e.Error, "unknown flag") {
		t.Fatalf("bad flag: exit %d, %q", res.ExitCode, res.Stdout)
	}
}

func TestNotary(t *testing.T) {
	var a struct {
		Scheme, SHA256, Digest, Error string
		Length                        int
	}
	want := func(in string) (string, string) {
		sum := sha256.Sum256([]byte(in))
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(in)))
		d := sha256.Sum256(append(append([]byte("agentnet/notary/v1"), n[:]...), in...))
		return hex.EncodeToString(sum[:]), hex.EncodeToString(d[:])
	}
	res := call(t, "notary", "", "hello", "world")
	decode(t, res, &a)
	sum, digest := want("hello world")
	if res.ExitCode != 0 || a.Scheme != "agentnet/notary/v1" || a.SHA256 != sum || a.Digest != digest || a.Length != 11 {
		t.Fatalf("args: exit %d %+v", res.ExitCode, a)
	}
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB, the cap
	res = call(t, "notary", big)
	decode(t, res, &a)
	sum, digest = want(big)
	if res.ExitCode != 0 || a.SHA256 != sum || a.Digest != digest || a.Length != 1<<20 {
		t.Fatalf("1 MiB stdin: exit %d %+v (stderr %q)", res.ExitCode, a, res.Stderr)
	}
	res = call(t, "notary", big+"x")
	a.Error = ""
	decode(t, res, &a)
	if res.ExitCode != 2 || !strings.Contains(a.Error, "cap") {
		t.Fatalf("over cap: exit %d %q", res.ExitCode, res.Stdout)
	}
}

func TestTextstats(t *testing.T) {
	var got map[string]any
	res := call(t, "textstats", "The cat sat. The cat ran!\nA dog barked.\n")
	decode(t, res, &got)
	for k, v := range map[string]float64{"words": 9, "sentences": 3, "lines": 2, "paragraphs": 1, "unique_words": 7, "reading_time_seconds": 3} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (answer %s)", k, got[k], v, res.Stdout)
		}
	}
	top, _ := got["top_words"].([]any)
	if len(top) != 5 || top[0].(map[string]any)["word"] != "cat" || top[0].(map[string]any)["count"] != 2.0 {
		t.Errorf("top words %v", got["top_words"])
	}
}

// TestDeterministic runs each agent twice with different seeds: the
// answer is a function of the input alone.
func TestDeterministic(t *testing.T) {
	for _, name := range agents.Names {
		e, m := module(t, name)
		var outs [][]byte
		for seed := range 2 {
			res, err := e.Run(context.Background(), m, wasm.Input{Args: []string{"language", "models"}, Seed: [32]byte{byte(seed)}})
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, res.Stdout)
		}
		if !bytes.Equal(outs[0], outs[1]) || len(outs[0]) == 0 {
			t.Errorf("%s: answers differ between runs:\n%s\n%s", name, outs[0], outs[1])
		}
	}
}

// TestFuelReproducible checks that a run's fuel is a function of module,
// input and seed: the same seed gives every agent the same count twice, and
// the arxiv agent the same count on a second executor. (A Go guest seeds
// its runtime's hash functions from random_get, so another seed may give
// another count: the seed is part of the input, and a receipt's holder
// recovers it with enclave.GuestSeed.)
func TestFuelReproducible(t *testing.T) {
	in := wasm.Input{Args: []string{"language", "models"}, Seed: [32]byte{7}}
	fuel := map[string]uint64{}
	for _, name := range agents.Names {
		e, m := module(t, name)
		for i := range 2 {
			res, err := e.Run(context.Background(), m, in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Fuel == 0 || i == 1 && res.Fuel != fuel[name] {
				t.Fatalf("%s: %d units, then %d with the same input and seed", name, fuel[name], res.Fuel)
			}
			fuel[name] = res.Fuel
		}
	}
	if testing.Short() {
		return // the second executor compiles a Go guest again
	}
	an, err := agentnet.New(agentnet.Config{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := wasm.New(context.Background(), wasm.Config{HostModules: []wasm.HostModule{an}, MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	a, _ := agents.Get("arxiv")
	m, err := other.Compile(context.Background(), a.Module)
	if err != nil {
		t.Fatal(err)
	}
	res, err := other.Run(context.Background(), m, in)
	if err != nil || res.Fuel != fuel["arxiv"] {
		t.Fatalf("arxiv on a second executor: %v, %d units, %d on the first", err, res.Fuel, fuel["arxiv"])
	}
}

// TestManifests checks every agent.toml against the node's manifest rules
// and that the testnet scenario's query finds the arxiv agent's card.
func TestManifests(t *testing.T) {
	for _, a := range agents.All() {
		m, err := agentstore.ParseManifest(a.Manifest)
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		if m.Name != a.Name || m.Price == 0 || len(m.Tags) == 0 {
			t.Errorf("%s: manifest %+v", a.Name, m)
		}
		onDisk, err := os.ReadFile(filepath.Join(a.Name, "agent.wasm"))
		if err != nil || !bytes.Equal(onDisk, a.Module) {
			t.Errorf("%s: embedded module differs from the file (%v)", a.Name, err)
		}
	}
	a, _ := agents.Get("arxiv")
	m, _ := agentstore.ParseManifest(a.Manifest)
	terms := card.Terms(&card.Card{Name: m.Name, Description: m.Description, Tags: m.Tags})
	for _, q := range discovery.QueryTerms("arxiv papers about attention") {
		if !slices.Contains(terms, q) {
			t.Errorf("arxiv card does not index %q (indexed: %q)", q, terms)
		}
	}
	if _, ok := agents.Get("nope"); ok {
		t.Error("Get found an agent that does not exist")
	}
}

// goVersion matches the toolchain version the Go runtime embeds.
var goVersion = regexp.MustCompile(`go1\.\d+(\.\d+)?(rc\d+)?\x00`)

// TestModulesUpToDate rebuilds every agent the way `make agents` does and
// compares the result with the committed agent.wasm byte for byte: the
// build is reproducible (-trimpath, -buildvcs=false, no cgo), so any
// difference means the source changed without `make agents`. It needs
// the toolchain that built the committed modules and is skipped with
// another one, and in -short mode.
func TestModulesUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three Go programs for wasip1")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goTool, "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	toolchain := strings.TrimSpace(string(out))
	dir := t.TempDir()
	for _, name := range agents.Names {
		committed, err := os.ReadFile(filepath.Join(name, "agent.wasm"))
		if err != nil {
			t.Fatal(err)
		}
		built := goVersion.Find(committed)
		if built == nil {
			t.Fatalf("%s: no Go version found in agent.wasm", name)
		}
		if v := string(built[:len(built)-1]); v != toolchain {
			t.Skipf("committed modules were built with %s, this toolchain is %s", v, toolchain)
		}
		dst := filepath.Join(dir, name+".wasm")
		cmd := exec.Command(goTool, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", dst, "./"+name)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
		fresh, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("%s/agent.wasm is stale: a fresh build differs (sha256 %x, committed %x); run make agents",
				name, sha256.Sum256(fresh), sha256.Sum256(committed))
		}
	}
}

// BenchmarkRun measures one call of each agent through the executor:
// instantiation (the Go runtime's start-up) and the agent's work.
func BenchmarkRun(b *testing.B) {
	inputs := map[string]wasm.Input{
		"arxiv":     {Args: []string{"arxiv", "papers", "about", "attention"}},
		"notary":    {Stdin: bytes.Repeat([]byte("x"), 64<<10)},
		"textstats": {Stdin: bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. "), 1456)},
	}
	for _, name := range agents.Names {
		if _, ok := inputs[name]; !ok {
			continue // research needs a network: agents/research benchmarks it
		}
		b.Run(name, func(b *testing.B) {
			e, m := module(b, name)
			for b.Loop() {
				res, err := e.Run(context.Background(), m, inputs[name])
				if err != nil || res.ExitCode != 0 {
					b.Fatalf("%v %s", err, res.Stderr)
				}
			}
		})
	}
}

// BenchmarkCompile measures a cold compilation of each module by a fresh
// executor, what a node pays once per module (without a file cache).
func BenchmarkCompile(b *testing.B) {
	for _, a := range agents.All() {
		b.Run(a.Name, func(b *testing.B) {
			for b.Loop() {
				an, _ := agentnet.New(agentnet.Config{})
				e, err := wasm.New(context.Background(), wasm.Config{HostModules: []wasm.HostModule{an}})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.Compile(context.Background(), a.Module); err != nil {
					b.Fatal(err)
				}
				_ = e.Close(context.Background())
			}
		})
	}
}
