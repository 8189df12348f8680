package loadtest

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/agentnet/agentnode/agents"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/testnet"
	"github.com/agentnet/agentnode/x402/chain"
)

// endpoint is one node as the load sees it.
type endpoint struct {
	url    string
	peerID string
	agents []string // deployed agents
}

// target is the system under load.
type target struct {
	nodes []endpoint
	payer *ecdsa.PrivateKey
	// freeAgent runs without payment (Exec on the single node); paidAgent
	// is priced (Paid on a testnet, and Call); "" means a module instead.
	freeAgent, paidAgent string
	query                string // what Search looks for
	close                func() error
}

// paymentWindow is the nodes' payment_timeout; the chain's clock may run a
// minute less ahead of the wall clock. Every block adds a second to that
// clock, and under paid load the chain seals one every few milliseconds, so
// a minute of it runs the clock hours ahead: with less room the chain slows
// to a block a second and settlements wait seconds for it, which measures
// the dev chain's clock, not the node. 24 h is the most a node accepts
// (node.MaxPaymentTimeout); a minute of paid load uses a few hours of it.
const paymentWindow = 24 * time.Hour

// The single node's free agent: the echo module under a manifest
// without a price.
const (
	echoAgent       = "echo"
	echoDescription = "repeats its arguments back"
)

// start brings up what cfg asks for in dir.
func start(ctx context.Context, cfg Config, dir string) (*target, error) {
	if cfg.Nodes > 1 {
		return startTestnet(ctx, cfg, dir)
	}
	return startSingle(ctx, cfg, dir)
}

// startSingle starts the embedded chain and one node that charges
// DefaultPrice for module runs, serves a free echo agent, and joins no
// one's network (its own, alone).
func startSingle(ctx context.Context, cfg Config, dir string) (*target, error) {
	gas, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	payer, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	// Every settlement adds a chain second or two (block timestamps must
	// increase): see paymentWindow.
	ch, info, err := chain.Dev(ctx, chain.DevConfig{
		Chain:      chain.Config{MaxLead: paymentWindow - time.Minute},
		GasAddress: crypto.PubkeyToAddress(gas.PublicKey), GasFunds: new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether)),
		PayerKey: payer, PayerTokens: new(big.Int).Mul(big.NewInt(DefaultPrice), big.NewInt(10_000_000)),
	})
	if err != nil {
		return nil, fmt.Errorf("start chain: %w", err)
	}
	appPath := filepath.Join(dir, "agents")
	if err := writeEcho(appPath); err != nil {
		return nil, errors.Join(err, ch.Close())
	}
	ncfg := node.Config{Listening: "127.0.0.1:0", DataDir: filepath.Join(dir, "node"), AppPath: appPath, TEE: "sim", LogLevel: "error",
		Price: DefaultPrice, P2PTTL: "testnet", MaxInflightExecutions: cfg.MaxInflight, MaxConcurrentExecutions: cfg.MaxConcurrent}
	ncfg.RPC, ncfg.GasKey, ncfg.Asset, ncfg.PayTo = ch.Client().Client(), gas, info.Token, info.PayTo
	ncfg.PaymentTimeout = node.Duration{Duration: paymentWindow}
	n, err := node.New(ncfg, nil)
	if err != nil {
		return nil, errors.Join(err, ch.Close())
	}
	if err := n.Start(ctx); err != nil {
		return nil, errors.Join(err, n.Close(), ch.Close())
	}
	return &target{
		nodes: []endpoint{{url: n.BridgeURL(), peerID: n.PeerID(), agents: []string{echoAgent}}},
		payer: payer, freeAgent: echoAgent, query: echoDescription,
		close: func() error { return errors.Join(n.Close(), ch.Close()) },
	}, nil
}

// writeEcho puts the free echo agent into appPath.
func writeEcho(appPath string) error {
	m := agentstore.Manifest{Name: echoAgent, Description: echoDescription, Tags: []string{"echo", "test"}}
	return agentstore.WriteAgent(appPath, m, wasmtest.EchoArgs)
}

// The testnet's priced agent for Paid and Call: the cheapest demo agent
// to run, and what Search looks for.
const (
	testnetAgent = "notary"
	testnetQuery = "notarize data sha256 digest"
)

// startTestnet starts a testnet of cfg.Nodes nodes in this process with
// the demo agents (all but research, whose calls would load the network
// with calls of its own).
func startTestnet(ctx context.Context, cfg Config, dir string) (*target, error) {
	var demo []agents.Agent
	for _, a := range agents.All() {
		if a.Name != "research" {
			demo = append(demo, a)
		}
	}
	tn, err := testnet.Start(ctx, testnet.Config{Nodes: cfg.Nodes, DataDir: dir, Agents: demo, LogLevel: "error", PaymentTimeout: paymentWindow})
	if err != nil {
		return nil, fmt.Errorf("start testnet: %w", err)
	}
	payer, err := crypto.HexToECDSA(strings.TrimPrefix(tn.Chain().PayerKey, "0x"))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("demo payer key: %w", err), tn.Close())
	}
	t := &target{payer: payer, paidAgent: testnetAgent, query: testnetQuery, close: tn.Close}
	for _, ni := range tn.Nodes() {
		t.nodes = append(t.nodes, endpoint{url: ni.BridgeURL, peerID: ni.PeerID, agents: ni.Agents})
	}
	if len(t.hosts(testnetAgent)) == 0 {
		return nil, errors.Join(fmt.Errorf("no node runs %s", testnetAgent), tn.Close())
	}
	return t, nil
}

// hosts returns the indexes of the nodes that run agent.
func (t *target) hosts(agent string) []int {
	var out []int
	for i, n := range t.nodes {
		for _, a := range n.agents {
			if a == agent {
				out = append(out, i)
			}
		}
	}
	return out
}

// counters returns, summed over the nodes, the metrics a report shows:
// requests shed, executions by outcome, payments by outcome.
func (t *target) counters(ctx context.Context) map[string]float64 {
	out := map[string]float64{}
	re := regexp.MustCompile(`(?m)^(agentnode_(?:http_rejected_total|executions_total|payments_total|p2p_refused_total)\{[^}]*\}) (\S+)$`)
	for _, n := range t.nodes {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/metrics", nil)
		if err != nil {
			continue
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			v, _ := strconv.ParseFloat(m[2], 64)
			out[m[1]] += v
		}
	}
	return out
}
