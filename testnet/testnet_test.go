package testnet_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/agents"
	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/testnet"
)

func TestAssign(t *testing.T) {
	for _, tc := range []struct {
		nodes, agents, replicas int
		want                    [][]int
	}{
		{1, 4, 4, [][]int{{0}, {0}, {0}, {0}}},
		{2, 4, 4, [][]int{{1}, {0}, {1}, {0}}},
		{4, 4, 4, [][]int{{1}, {2}, {3}, {0}}},
		{5, 4, 4, [][]int{{1}, {2}, {3}, {0, 4}}},
		{8, 4, 1, [][]int{{2}, {4}, {6}, {0}}},
		{16, 4, 4, [][]int{{1, 5, 9, 13}, {2, 6, 10, 14}, {3, 7, 11, 15}, {0, 4, 8, 12}}},
		{50, 4, 4, [][]int{{3, 15, 28, 40}, {6, 18, 31, 43}, {9, 21, 34, 46}, {0, 12, 25, 37}}},
		{3, 2, 2, [][]int{{1}, {0, 2}}},
		{3, 2, 0, [][]int{{1}, {0}}},
		{0, 2, 1, [][]int{nil, nil}},
	} {
		got := testnet.Assign(tc.nodes, tc.agents, tc.replicas)
		if !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("Assign(%d, %d, %d) = %v, want %v", tc.nodes, tc.agents, tc.replicas, got, tc.want)
		}
	}
	// The properties Start relies on, for every size up to MaxNodes.
	for n := 1; n <= testnet.MaxNodes; n++ {
		hosts := testnet.Assign(n, 4, testnet.DefaultReplicas)
		seen := map[int]int{}
		for j, hs := range hosts {
			if len(hs) == 0 {
				t.Fatalf("%d nodes: agent %d runs nowhere", n, j)
			}
			if len(hs) > testnet.DefaultReplicas {
				t.Fatalf("%d nodes: agent %d on %d nodes", n, j, len(hs))
			}
			for _, i := range hs {
				if i < 0 || i >= n {
					t.Fatalf("%d nodes: agent %d on node %d", n, j, i)
				}
				seen[i]++
			}
		}
		if n >= 2 && slices.Contains(hosts[0], 0) {
			t.Fatalf("%d nodes: the first agent runs on node 0", n)
		}
		if n >= 4 && len(seen) != min(n, 16) {
			t.Fatalf("%d nodes: %d nodes run an agent, want %d", n, len(seen), min(n, 16))
		}
	}
}

func TestNodeName(t *testing.T) {
	for _, tc := range []struct {
		i, n int
		want string
	}{{0, 1, "node-00"}, {7, 50, "node-07"}, {99, 100, "node-99"}, {5, 101, "node-005"}} {
		if got := testnet.NodeName(tc.i, tc.n); got != tc.want {
			t.Errorf("NodeName(%d, %d) = %q, want %q", tc.i, tc.n, got, tc.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg  testnet.Config
		want string
	}{
		{testnet.Config{Nodes: -1, DataDir: dir}, "nodes"},
		{testnet.Config{Nodes: testnet.MaxNodes + 1, DataDir: dir}, "nodes"},
		{testnet.Config{Nodes: 5, BasePort: 80, DataDir: dir}, "base port"},
		{testnet.Config{Nodes: 5, BasePort: 65533, DataDir: dir}, "base port"},
		{testnet.Config{Nodes: 5}, "data directory"},
		{testnet.Config{Nodes: 5, DataDir: dir, Processes: true}, "binary"},
		{testnet.Config{Nodes: 5, DataDir: dir, LogLevel: "loud"}, "log level"},
		{testnet.Config{Nodes: 5, DataDir: dir, PaymentTimeout: time.Minute}, "payment timeout"},
	} {
		tn, err := testnet.Start(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want one about %s", tc.cfg, err, tc.want)
		}
		if tn != nil {
			t.Errorf("%+v: a testnet on error", tc.cfg)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused config left %d files", len(entries))
	}
}

// testAgents are two small priced agents for the in-process tests: the
// demo agents are 2.5 MB Go modules whose compilation takes tens of
// seconds under the race detector (the end-to-end tests run them, in a
// binary built without it). "papers" answers the scenario's query.
func testAgents(t testing.TB) []agents.Agent {
	mk := func(name, desc, banner string, price uint64, tags ...string) agents.Agent {
		m := agentstore.Manifest{Name: name, Description: desc, Tags: tags, Price: price}
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return agents.Agent{Name: name, Manifest: b, Module: nettest.Greeter(t, banner)}
	}
	return []agents.Agent{
		mk("papers", "finds arxiv papers about attention and transformers", "papers found for:", 10000, "arxiv", "papers"),
		mk("stamp", "stamps a document with a digest", "stamped:", 5000, "notary"),
	}
}

// TestInProcessScenario starts three nodes in this process, plays the
// scenario (search, paid call on another node, receipt and settlement),
// checks the status page of node 0 shows every node and the payment, and
// starts again in the same directory: the same peer ids, the agents
// deployed once.
func TestInProcessScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node testnet and the chain")
	}
	dir := t.TempDir()
	var progress strings.Builder
	cfg := testnet.Config{Nodes: 3, DataDir: dir, Agents: testAgents(t), Progress: &progress}
	ctx := context.Background()
	tn, err := testnet.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	nodes := tn.Nodes()
	if len(nodes) != 3 {
		t.Fatalf("%d nodes", len(nodes))
	}
	for i, n := range nodes {
		if n.Name != testnet.NodeName(i, 3) || n.PeerID == "" || !strings.HasPrefix(n.BridgeURL, "http://127.0.0.1:") || len(n.P2PAddrs) == 0 || n.PID != 0 {
			t.Errorf("node %d: %+v", i, n)
		}
	}
	if !slices.Equal(nodes[1].Agents, []string{"papers"}) || !slices.Equal(nodes[0].Agents, []string{"stamp"}) {
		t.Errorf("agents %v, %v, %v", nodes[0].Agents, nodes[1].Agents, nodes[2].Agents)
	}
	tm := tn.Timing()
	if tm.Ready <= 0 || tm.Ready < tm.Chain+tm.Nodes+tm.RoutingTables+tm.Agents {
		t.Errorf("timing %+v", tm)
	}
	for _, stage := range []string{"token", "3 nodes started", "routing table", "found by search"} {
		if !strings.Contains(progress.String(), stage) {
			t.Errorf("progress lacks %q:\n%s", stage, progress.String())
		}
	}

	t.Logf("start: %s", progress.String())
	var out strings.Builder
	res, err := tn.RunScenario(ctx, testnet.ScenarioConfig{Searches: 4, Calls: 3, Out: &out})
	if err != nil {
		t.Fatalf("scenario: %v\n%s", err, out.String())
	}
	if res.Found.Name != "papers" || res.Found.PeerID != nodes[1].PeerID {
		t.Errorf("found %s on %s, want papers on node 1", res.Found.Name, res.Found.PeerID)
	}
	rc := res.Receipt
	if rc == nil || rc.Payment == nil || rc.Output != "papers found for: "+testnet.DefaultQuery+"\n" {
		t.Fatalf("receipt %+v", rc)
	}
	if res.Settlement == nil || res.Settlement.Transaction.Hex() != rc.Payment.Transaction || res.Settlement.Amount.String() != "10000" {
		t.Errorf("settlement %+v, payment %+v", res.Settlement, rc.Payment)
	}
	if len(res.Steps) != 4 || res.Search.N != 4 || res.Call.N != 3 || res.Call.P50 <= 0 || res.Call.P99 < res.Call.P50 {
		t.Errorf("steps %d, searches %+v, calls %+v", len(res.Steps), res.Search, res.Call)
	}
	t.Logf("scenario:\n%s", out.String())
	for _, want := range []string{"1. search", "2. paid call", "3. verify receipt", "4. settlement", "scenario passed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Anyone holding the receipt can check it, with the demo payer's file
	// nowhere near.
	if _, err := client.VerifyReceipt(ctx, rc, nil, nil); err == nil {
		t.Error("a receipt of the simulated TEE verified under the default policy")
	}

	page := get(t, nodes[0].BridgeURL+"/ui/live")
	for _, want := range []string{`<b id="count-nodes">3</b>`, rc.Payment.Transaction, `<span class="settled">settled</span>`,
		"node-00", "node-01", "node-02", "papers", "stamp"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if n := len(regexp.MustCompile(`class="event served paid"`).FindAllString(page, -1)); n != 1+3 {
		t.Errorf("status page shows %d paid runs, want 4 (the scenario's call and 3 measured ones)", n)
	}

	var dev client.DevInfo
	readJSON(t, filepath.Join(dir, testnet.DevJSON), &dev)
	if dev.BridgeURL != nodes[0].BridgeURL || dev.RPCURL != tn.Chain().RPCURL || dev.PayerKey == "" {
		t.Errorf("dev.json %+v", dev)
	}
	var info struct {
		Chain map[string]any     `json:"chain"`
		Nodes []testnet.NodeInfo `json:"nodes"`
	}
	readJSON(t, filepath.Join(dir, testnet.InfoJSON), &info)
	if len(info.Nodes) != 3 || info.Nodes[2].PeerID != nodes[2].PeerID || info.Chain["token"] != tn.Chain().Token {
		t.Errorf("testnet.json %+v", info)
	}
	if _, ok := info.Chain["payer_key"]; ok {
		t.Error("testnet.json holds the demo payer's key")
	}
	for _, f := range []string{testnet.DevJSON, testnet.InfoJSON, "node-00/gas.key", "node-02/payer.key"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v", f, err, fi.Mode())
		}
	}

	if err := tn.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := tn.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := http.Get(nodes[0].BridgeURL + "/healthz"); err == nil {
		t.Error("node 0 still answers after Close")
	}

	// Same directory: the nodes keep their keys, hence their peer ids.
	again, err := testnet.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	t.Logf("restart: %+v", again.Timing())
	for i, n := range again.Nodes() {
		if n.PeerID != nodes[i].PeerID || n.Payer != nodes[i].Payer {
			t.Errorf("node %d: peer %s payer %s, before %s %s", i, n.PeerID, n.Payer, nodes[i].PeerID, nodes[i].Payer)
		}
	}
}

func TestScenarioNeedsTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and the chain")
	}
	tn, err := testnet.Start(context.Background(), testnet.Config{Nodes: 1, DataDir: t.TempDir(), Agents: []agents.Agent{}})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	if _, err := tn.RunScenario(context.Background(), testnet.ScenarioConfig{}); !errors.Is(err, testnet.ErrScenario) {
		t.Fatalf("scenario on one node: %v", err)
	}
}

func TestStartStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if tn, err := testnet.Start(ctx, testnet.Config{Nodes: 2, DataDir: dir}); !errors.Is(err, context.Canceled) || tn != nil {
		t.Fatalf("start with a cancelled context: %v, want context.Canceled", err)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestCloseLeavesNothingRunning: a testnet's Close takes every goroutine
// it started down with it: nodes, chain, clients.
func TestCloseLeavesNothingRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-node testnet and the chain")
	}
	before := runtime.NumGoroutine()
	tn, err := testnet.Start(context.Background(), testnet.Config{Nodes: 2, DataDir: t.TempDir(), Agents: testAgents(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.RunScenario(context.Background(), testnet.ScenarioConfig{Searches: 2, Calls: 2}); err != nil {
		t.Fatal(err)
	}
	if err := tn.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d -> %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
