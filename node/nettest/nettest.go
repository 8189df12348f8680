// Package nettest starts networks of real nodes for tests: each one a
// node.Node on the simulated TEE with its bridge on 127.0.0.1:0 and its
// libp2p host on loopback TCP, joined through the first two nodes, with
// record lifetimes of seconds, and agents made from a small greeting
// module whose output names them ([Greeter]).
package nettest

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/p2p"
)

// greet is testdata/greet.wat built with wat2wasm: it prints its banner,
// then each argument after a space, then "\n".
//
//go:embed testdata/greet.wasm
var greet []byte

// bannerSlot is the banner's 64-byte data segment in greet, patched by
// Greeter.
const bannerSlot = "@@agentnode-greet-banner@@------------------------------------@@"

// MaxBanner is the longest banner a Greeter prints.
const MaxBanner = len(bannerSlot)

// Greeter returns a WASI command that prints banner, then each of its
// arguments after a space, then "\n": with arguments "a" and "b" the
// output is "<banner> a b\n", without any "<banner>\n". Every banner gives
// a distinct module (and module hash). banner holds no NUL and at most
// MaxBanner bytes.
func Greeter(tb testing.TB, banner string) []byte {
	tb.Helper()
	if len(banner) > MaxBanner || bytes.IndexByte([]byte(banner), 0) >= 0 {
		tb.Fatalf("greeter banner %q: want at most %d bytes and no NUL", banner, MaxBanner)
	}
	i := bytes.Index(greet, []byte(bannerSlot))
	if i < 0 {
		tb.Fatal("greet.wasm has no banner slot: rebuild it from greet.wat")
	}
	out := bytes.Clone(greet)
	slot := out[i : i+len(bannerSlot)]
	clear(slot)
	copy(slot, banner)
	return out
}

// Agent is a test agent: a Greeter of Banner with a manifest.
type Agent struct {
	Name        string
	Description string
	Tags        []string
	Banner      string
	// Timeout is the agent's own execution limit; zero: the node's.
	Timeout time.Duration
}

// Module returns the agent's module.
func (a Agent) Module(tb testing.TB) []byte { return Greeter(tb, a.Banner) }

// Manifest returns the agent's agent.toml.
func (a Agent) Manifest(tb testing.TB) []byte {
	tb.Helper()
	m := a.manifest()
	b, err := m.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Output is what the agent prints for args.
func (a Agent) Output(args ...string) string {
	out := a.Banner
	for _, s := range args {
		out += " " + s
	}
	return out + "\n"
}

// Write puts the agent's directory into appPath.
func (a Agent) Write(tb testing.TB, appPath string) {
	tb.Helper()
	if err := agentstore.WriteAgent(appPath, a.manifest(), a.Module(tb)); err != nil {
		tb.Fatal(err)
	}
}

func (a Agent) manifest() agentstore.Manifest {
	m := agentstore.Manifest{Name: a.Name, Description: a.Description, Tags: a.Tags}
	m.Limits.Timeout.Duration = a.Timeout
	return m
}

// TTL is a record-lifetime profile for tests that do not wait for
// expiry: cards live a minute and are re-issued every 20 s, light enough
// for ten nodes under the race detector.
func TTL() p2p.TTL {
	return p2p.TTL{
		ProvideValidity: 90 * time.Second,
		Reprovide:       30 * time.Second,
		MaxRecordAge:    2 * time.Minute,
		CardLifetime:    time.Minute,
		CardRepublish:   20 * time.Second,
	}
}

// Options shape a network.
type Options struct {
	// Agents returns the agents node i starts with in its app_path.
	Agents func(i int) []Agent
	// Config adjusts node i's config before it starts.
	Config func(i int, c *node.Config)
	// TTL is every node's record-lifetime profile; zero means TTL().
	TTL p2p.TTL
}

// Network is a set of started nodes that know each other.
type Network struct {
	Nodes []*node.Node
	cfgs  []node.Config
}

// Start starts n nodes; nodes 1..n-1 bootstrap from nodes 0 and 1. It
// returns once every node's routing table holds min(n-1, 15) peers, and
// closes the nodes when the test ends. Set AGENTNODE_TEST_LOG=debug (or
// info, warn, error) to see the nodes' logs.
func Start(tb testing.TB, n int, opts Options) *Network {
	tb.Helper()
	ttl := opts.TTL
	if ttl == (p2p.TTL{}) {
		ttl = TTL()
	}
	nw := &Network{Nodes: make([]*node.Node, n), cfgs: make([]node.Config, n)}
	var boot []string
	for i := range n {
		dir := tb.TempDir()
		cfg := node.Config{
			Listening: "127.0.0.1:0", DataDir: dir, AppPath: filepath.Join(dir, "agents"), TEE: "sim",
			LogLevel: "error", P2PTTL: "testnet", TTL: ttl, Bootstrap: boot,
			P2PReadTimeout: node.Duration{Duration: 2 * time.Second},
		}
		if opts.Agents != nil {
			for _, a := range opts.Agents(i) {
				a.Write(tb, cfg.AppPath)
			}
		}
		if opts.Config != nil {
			opts.Config(i, &cfg)
		}
		nw.cfgs[i] = cfg
		nw.Nodes[i] = StartNode(tb, cfg)
		if i < 2 {
			boot = append(boot, nw.Nodes[i].P2PAddrs()...)
		}
	}
	if err := nw.WaitReady(min(n-1, 15), 60*time.Second); err != nil {
		tb.Fatal(err)
	}
	return nw
}

// StartNode starts one node from cfg and closes it when the test ends.
func StartNode(tb testing.TB, cfg node.Config) *node.Node {
	tb.Helper()
	n, err := node.New(cfg, testLogger())
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		tb.Fatalf("start node: %v", err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Errorf("close node: %v", err)
		}
	})
	return n
}

func testLogger() *slog.Logger {
	level := os.Getenv("AGENTNODE_TEST_LOG")
	if level == "" {
		return nil
	}
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// Config returns the config node i was started with.
func (nw *Network) Config(i int) node.Config { return nw.cfgs[i] }

// Restart closes node i and starts it again from the same data dir (same
// identity, same agents) and the same bootstrap peers.
func (nw *Network) Restart(tb testing.TB, i int) *node.Node {
	tb.Helper()
	if err := nw.Nodes[i].Close(); err != nil {
		tb.Fatalf("close node %d: %v", i, err)
	}
	nw.Nodes[i] = StartNode(tb, nw.cfgs[i])
	return nw.Nodes[i]
}

// WaitReady waits, in parallel, until the routing table of every running
// node holds minPeers peers.
func (nw *Network) WaitReady(minPeers int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := make([]error, len(nw.Nodes))
	var wg sync.WaitGroup
	for i, n := range nw.Nodes {
		wg.Go(func() {
			if err := n.P2P().WaitReady(ctx, minPeers); err != nil {
				errs[i] = fmt.Errorf("node %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Client returns a bridge client of n that accepts the simulated TEE.
func Client(tb testing.TB, n *node.Node) *client.Client {
	tb.Helper()
	return nodetest.Client(tb, n.BridgeURL())
}

// Eventually calls check until it returns nil or timeout passes, and
// returns its last error.
func Eventually(timeout, every time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(every)
	}
}
