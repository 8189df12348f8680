package node_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/node/nodetest"
)

func writeRaw(t *testing.T, appPath, name, manifest string, module []byte) {
	t.Helper()
	dir := filepath.Join(appPath, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "agent.toml"), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "agent.wasm"), module, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAgentOwnTimeoutApplies(t *testing.T) {
	dir := t.TempDir()
	writeRaw(t, filepath.Join(dir, "agents"), "spin", "name = \"spin\"\ndescription = \"spins forever\"\n[limits]\ntimeout = \"300ms\"\n", wasmtest.InfiniteLoop)
	n := nodetest.Start(t, func(c *node.Config) { c.DataDir = dir })
	c := nodetest.Client(t, n.BridgeURL())
	start := time.Now()
	_, err := c.Exec(context.Background(), client.ExecInput{Agent: "spin"})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != api.CodeTimeout {
		t.Fatalf("spinning agent: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("agent limit of 300ms stopped the run after %s (node limit 5s)", took)
	}
}

func TestStartRefusesBrokenAgentsAndCloses(t *testing.T) {
	for name, c := range map[string]struct {
		manifest string
		module   []byte
		want     string
	}{
		"invalid module":   {"name = \"bad\"\ndescription = \"x\"\n", wasmtest.Truncated, `"bad"`},
		"timeout too long": {"name = \"bad\"\ndescription = \"x\"\n[limits]\ntimeout = \"1h\"\n", wasmtest.Hello, "wasm_timeout"},
		"priced":           {"name = \"bad\"\ndescription = \"x\"\nprice = 5\n", wasmtest.Hello, "x402"},
	} {
		dir := t.TempDir()
		writeRaw(t, filepath.Join(dir, "agents"), "bad", c.manifest, c.module)
		n, err := node.New(node.Config{Listening: "127.0.0.1:0", DataDir: dir, TEE: "sim"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: start: %v", name, err)
		}
		if err := n.Close(); err != nil {
			t.Errorf("%s: close after failed start: %v", name, err)
		}
	}
}

// TestNodeLifecycleLeavesNothingRunning starts nodes with p2p (one that
// cannot listen, one that works and serves a search and a call) and checks
// that Close takes every goroutine they started down with it.
func TestNodeLifecycleLeavesNothingRunning(t *testing.T) {
	before := runtime.NumGoroutine()
	n, err := node.New(node.Config{Listening: "127.0.0.1:0", DataDir: t.TempDir(), TEE: "sim", P2PListen: []string{"/ip4/192.0.2.1/tcp/0"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("start on an address that is not this host's: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("close after failed start: %v", err)
	}

	a := agentsOf(0)[0]
	cfg := node.Config{Listening: "127.0.0.1:0", DataDir: t.TempDir(), TEE: "sim"}
	cfg.AppPath = filepath.Join(cfg.DataDir, "agents")
	a.Write(t, cfg.AppPath)
	n, err = node.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := nodetest.Client(t, n.BridgeURL())
	if err := nettest.Eventually(10*time.Second, 50*time.Millisecond, func() error {
		_, err := c.CallAgent(context.Background(), n.PeerID(), a.Name, api.CallRequest{})
		return err
	}); err != nil {
		t.Fatalf("call own agent: %v", err)
	}
	if _, err := c.Search(context.Background(), api.SearchRequest{Description: a.Description}); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d -> %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOwnAgentCallableRightAfterDeploy: a node that has just looked its own
// cards up (and cached them) calls an agent deployed after that as soon as
// the agent's card is out, not once the search cache expires; a withdrawn
// one stops answering the same way.
func TestOwnAgentCallableRightAfterDeploy(t *testing.T) {
	nw := nettest.Start(t, 1, nettest.Options{Agents: agentsOf})
	n := nw.Nodes[0]
	c := nettest.Client(t, n)
	ctx := context.Background()
	first := agentsOf(0)[0]
	if err := nettest.Eventually(10*time.Second, 50*time.Millisecond, func() error {
		_, err := c.CallAgent(ctx, n.PeerID(), first.Name, api.CallRequest{})
		return err
	}); err != nil {
		t.Fatalf("call own agent: %v", err)
	}

	// Well inside the search cache's 30 s, which would otherwise hold the
	// card set read by the call above.
	const within = 5 * time.Second
	a := nettest.Agent{Name: "haiku", Description: "composes haiku about mountain rivers", Banner: "haiku"}
	if _, err := c.Upload(ctx, a.Manifest(t), a.Module(t)); err != nil {
		t.Fatal(err)
	}
	if err := nettest.Eventually(within, 50*time.Millisecond, func() error {
		_, err := c.CallAgent(ctx, n.PeerID(), a.Name, api.CallRequest{})
		return err
	}); err != nil {
		t.Fatalf("call agent deployed after a lookup: %v", err)
	}
	checkCall(t, c, n.PeerID(), a, "river")

	if _, err := c.Withdraw(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	if err := nettest.Eventually(within, 50*time.Millisecond, func() error {
		_, err := c.CallAgent(ctx, n.PeerID(), a.Name, api.CallRequest{})
		if err == nil {
			return errors.New("withdrawn agent still answers")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
