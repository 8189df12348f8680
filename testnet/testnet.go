// Package testnet runs a whole agentnet network on one machine, the
// integration test bed and the place where the network's figures are
// measured: the embedded chain (x402/chain) with its EIP-3009 token, and N
// nodes on the simulated TEE — real libp2p hosts on loopback TCP, bridges
// on consecutive loopback ports — each funded to settle payments (its gas
// key, which is also its pay_to) and to make them (its payer key), and the
// demo agents (package agents) deployed across them, priced and paid
// through the chain. A demo payer, written to dev.json, pays from outside.
//
// [Start] follows the recipe of the p2p notes: nodes 0 and 1 are the
// bootstrap peers, every routing table is filled by refreshes run in
// parallel and the start waits until each holds min(n-1, 15) peers; only
// then are the agents deployed, and the start returns once a search finds
// every copy. [Testnet.RunScenario] then plays the end-to-end story: a
// search, a paid call on another node, the receipt verified down to its
// settlement on chain, with every step timed.
//
// Nodes run in this process by default, sharing one compilation cache (a
// demo agent is compiled once, not once per node) and one in-process
// client of the chain; with Config.Processes each node is its own
// `agentnode run` process with a config file in its data directory, which
// is what a real deployment looks like.
package testnet

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/agentnet/agentnode/agents"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/x402/chain"
)

// Limits and defaults of Config.
const (
	// DefaultNodes is the size of a testnet when Config.Nodes is zero.
	DefaultNodes = 5
	// MaxNodes bounds Config.Nodes: past it one machine spends its time on
	// the DHT's upkeep (the p2p notes measured 100 nodes at 7 % of a core
	// idle and a minute to start on two cores).
	MaxNodes = 100
	// DefaultReadyTimeout bounds a start when Config.ReadyTimeout is zero.
	DefaultReadyTimeout = 3 * time.Minute
	// DefaultReplicas is how many nodes run each agent by default: four
	// copies to find and call, at a fraction of the memory of one on every
	// node.
	DefaultReplicas = 4
	// DefaultMaxPrice is what each node's payer pays at most per call, in
	// the token's atomic units: above every demo agent's price.
	DefaultMaxPrice = 1_000_000
	// routingTarget caps the routing-table size a start waits for: with
	// k = 20, 15 peers make every lookup of a small network succeed.
	routingTarget = 15
)

// Files and directories in Config.DataDir.
const (
	// DevJSON is the demo payer's dev.json, as `agentnode dev` writes it.
	DevJSON = "dev.json"
	// InfoJSON describes the running testnet: nodes, addresses, agents.
	InfoJSON = "testnet.json"
	// cacheDir is the compilation cache the nodes share by default.
	cacheDir = "wasm-cache"
	// Per node directory: keys, the process mode's config and log.
	gasKeyFile   = "gas.key"
	payerKeyFile = "payer.key"
	configFile   = "node.toml"
	logFile      = "node.log"
)

// Config configures a testnet. The zero value of every field but DataDir
// is usable.
type Config struct {
	// Nodes is the number of nodes. Default DefaultNodes, at most MaxNodes.
	Nodes int
	// BasePort puts node i's bridge on 127.0.0.1:BasePort+i. Zero picks
	// free ports (tests); `agentnode testnet` uses 3000.
	BasePort int
	// DataDir holds a directory per node (node-00, ...), the shared
	// compilation cache, dev.json and testnet.json. They stay after Close,
	// for inspection; a later testnet in the same directory reuses the
	// nodes' keys (same peer ids). Required.
	DataDir string
	// CacheDir is the compilation cache every node shares, so that each
	// agent is compiled once, not once per node; kept across testnets it
	// saves the compilation too (a few seconds for the demo agents). It
	// must be private to the user (the executor refuses a directory others
	// can read: it holds machine code). Default <DataDir>/wasm-cache.
	CacheDir string
	// Processes runs each node as its own `Binary run --config
	// <dir>/node.toml` process, logging to <dir>/node.log. Default: every
	// node in this process.
	Processes bool
	// Binary is the agentnode executable that Processes runs.
	Binary string
	// RPCAddr is the chain's JSON-RPC listen address. Default
	// "127.0.0.1:0" (a free loopback port).
	RPCAddr string
	// Agents are deployed across the nodes (see Assign). Default
	// agents.All().
	Agents []agents.Agent
	// Replicas is how many nodes run each agent, when there are nodes
	// enough. Each copy costs its node the agent's compiled code (about 9
	// MB for a 2.5 MB Go module) and its decoded module, about 20 MB of
	// memory in all. Default DefaultReplicas.
	Replicas int
	// MaxPrice is what a node's payer pays at most for one call. Default
	// DefaultMaxPrice.
	MaxPrice uint64
	// ReadyTimeout bounds Start. Default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// PaymentTimeout is the authorization window the nodes ask payers for;
	// the chain's clock may run at most a minute less ahead of the wall
	// clock (see chain.go). Every settlement adds a second or two to that
	// clock, so a long paid load needs more than the default (the load
	// test uses hours). Default DefaultPaymentTimeout; at least 2 minutes.
	PaymentTimeout time.Duration
	// LogLevel is the nodes' log level ("debug" ... "error"). Default
	// "warn".
	LogLevel string
	// Logger receives the logs of nodes that run in this process (each
	// with its node's name) and of the chain. Nil discards them.
	Logger *slog.Logger
	// Progress, when set, is told of each stage of the start as it ends.
	Progress io.Writer
}

// Testnet is a running testnet.
type Testnet struct {
	cfg     Config
	chain   *chain.Chain
	dev     chain.DevInfo
	members []member
	nodes   []NodeInfo
	clients []*client.Client // bridge clients of the nodes, by index
	timing  Timing

	// mu guards members and nodes against the status page, which node 0
	// serves while the others start.
	mu sync.RWMutex

	closeOnce sync.Once
	closeErr  error
}

// NodeInfo describes a node of the testnet.
type NodeInfo struct {
	Index     int      `json:"index"`
	Name      string   `json:"name"`
	PeerID    string   `json:"peer_id"`
	BridgeURL string   `json:"bridge_url"`
	P2PAddrs  []string `json:"p2p_addrs"`
	DataDir   string   `json:"data_dir"`
	// PayTo receives the node's payments; its gas key settles them.
	PayTo string `json:"pay_to"`
	// Payer is the address the node pays other nodes' agents from.
	Payer  string   `json:"payer"`
	Agents []string `json:"agents"`
	// PID is the node's process in the process mode, else 0.
	PID int `json:"pid,omitempty"`
}

// Timing says where a start spent its time.
type Timing struct {
	// Chain is the embedded chain's start, the token and the funding.
	Chain time.Duration `json:"chain_ns"`
	// Nodes is the start of every node (and process).
	Nodes time.Duration `json:"nodes_ns"`
	// RoutingTables is the wait for every routing table.
	RoutingTables time.Duration `json:"routing_tables_ns"`
	// Agents is the deployment and the wait until search finds every
	// copy of every agent.
	Agents time.Duration `json:"agents_ns"`
	// Ready is the whole start.
	Ready time.Duration `json:"ready_ns"`
}

// Start starts a testnet: chain, keys and funds, nodes, routing tables,
// agents. ctx bounds the start (and Config.ReadyTimeout within it); a
// failed start stops what it started.
func Start(ctx context.Context, cfg Config) (_ *Testnet, err error) {
	begin := time.Now()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	if err := checkFDs(cfg.Nodes, cfg.Processes); err != nil {
		return nil, err
	}
	t := &Testnet{cfg: cfg}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Close())
		}
	}()
	keys, err := t.prepare()
	if err != nil {
		return nil, err
	}
	stage := time.Now()
	if err := t.startChain(ctx, keys); err != nil {
		return nil, err
	}
	t.timing.Chain = time.Since(stage)
	t.progress("chain %s (%s): token %s deployed, %d nodes and the demo payer funded (%s)",
		t.dev.RPCURL, t.dev.Network, t.dev.Token, cfg.Nodes, round(t.timing.Chain))

	stage = time.Now()
	if err := t.startNodes(ctx, keys); err != nil {
		return nil, err
	}
	t.timing.Nodes = time.Since(stage)
	t.progress("%d nodes started (%s)", cfg.Nodes, round(t.timing.Nodes))

	stage = time.Now()
	if err := t.waitRoutingTables(ctx); err != nil {
		return nil, err
	}
	t.timing.RoutingTables = time.Since(stage)
	t.progress("every routing table holds %d peers (%s)", min(cfg.Nodes-1, routingTarget), round(t.timing.RoutingTables))

	stage = time.Now()
	if err := t.deployAgents(ctx); err != nil {
		return nil, err
	}
	t.timing.Agents = time.Since(stage)
	t.progress("%d agents deployed on %d nodes and found by search (%s)", len(cfg.Agents), cfg.Nodes, round(t.timing.Agents))
	t.timing.Ready = time.Since(begin)
	if err := t.writeInfo(); err != nil {
		return nil, err
	}
	return t, nil
}

func (c *Config) validate() error {
	if c.Nodes == 0 {
		c.Nodes = DefaultNodes
	}
	if c.Nodes < 1 || c.Nodes > MaxNodes {
		return fmt.Errorf("testnet config: %d nodes: want 1 to %d", c.Nodes, MaxNodes)
	}
	if c.BasePort < 0 || c.BasePort+c.Nodes-1 > 65535 || (c.BasePort > 0 && c.BasePort < 1024) {
		return fmt.Errorf("testnet config: base port %d for %d nodes: want 0 (free ports) or 1024 to %d", c.BasePort, c.Nodes, 65536-c.Nodes)
	}
	if c.DataDir == "" {
		return errors.New("testnet config: no data directory")
	}
	if c.Processes && c.Binary == "" {
		return errors.New("testnet config: the process mode needs the agentnode binary")
	}
	if c.CacheDir == "" {
		c.CacheDir = filepath.Join(c.DataDir, cacheDir)
	}
	if c.RPCAddr == "" {
		c.RPCAddr = chain.DefaultAddr
	}
	if c.Agents == nil {
		c.Agents = agents.All()
	}
	if c.Replicas <= 0 {
		c.Replicas = DefaultReplicas
	}
	if c.MaxPrice == 0 {
		c.MaxPrice = DefaultMaxPrice
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.PaymentTimeout == 0 {
		c.PaymentTimeout = DefaultPaymentTimeout
	}
	if c.PaymentTimeout < 2*time.Minute {
		return fmt.Errorf("testnet config: payment timeout %s: want at least 2m (the chain's lead is a minute less)", c.PaymentTimeout)
	}
	if c.LogLevel == "" {
		c.LogLevel = "warn"
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("testnet config: log level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// nodeKeys are a node's payment keys.
type nodeKeys struct {
	dir        string
	gas, payer *ecdsa.PrivateKey
}

// prepare creates the data directories and each node's keys (reusing
// those a previous testnet left).
func (t *Testnet) prepare() ([]nodeKeys, error) {
	cfg := t.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	keys := make([]nodeKeys, cfg.Nodes)
	for i := range keys {
		dir := filepath.Join(cfg.DataDir, NodeName(i, cfg.Nodes))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create node dir: %w", err)
		}
		gas, err := client.LoadOrCreateKeyFile(filepath.Join(dir, gasKeyFile))
		if err != nil {
			return nil, err
		}
		payer, err := client.LoadOrCreateKeyFile(filepath.Join(dir, payerKeyFile))
		if err != nil {
			return nil, err
		}
		keys[i] = nodeKeys{dir: dir, gas: gas, payer: payer}
	}
	return keys, nil
}

// NodeName is the name of node i of a testnet of n nodes: "node-07", with
// as many digits as the largest index needs (at least two).
func NodeName(i, n int) string {
	return fmt.Sprintf("node-%0*d", max(2, len(strconv.Itoa(n-1))), i)
}

// Nodes describes the nodes, by index.
func (t *Testnet) Nodes() []NodeInfo {
	out := make([]NodeInfo, len(t.nodes))
	copy(out, t.nodes)
	return out
}

// Chain returns the chain's values: RPC URL, network, token, and the demo
// payer's key (also in dev.json).
func (t *Testnet) Chain() chain.DevInfo { return t.dev }

// Timing says where the start spent its time.
func (t *Testnet) Timing() Timing { return t.timing }

// DataDir is where the testnet keeps its files.
func (t *Testnet) DataDir() string { return t.cfg.DataDir }

// Close stops every node (in parallel), then the chain. The data
// directories stay. It is idempotent.
func (t *Testnet) Close() error {
	t.closeOnce.Do(func() {
		errs := make([]error, len(t.members))
		var wg sync.WaitGroup
		for i, m := range t.members {
			if m == nil {
				continue
			}
			wg.Go(func() {
				if err := m.close(); err != nil {
					errs[i] = fmt.Errorf("stop %s: %w", NodeName(i, t.cfg.Nodes), err)
				}
			})
		}
		wg.Wait()
		if t.chain != nil {
			errs = append(errs, t.chain.Close())
		}
		t.closeErr = errors.Join(errs...)
	})
	return t.closeErr
}

func (t *Testnet) progress(format string, a ...any) {
	if t.cfg.Progress != nil {
		fmt.Fprintf(t.cfg.Progress, format+"\n", a...)
	}
}

// verifiers and policy are what the testnet's clients check evidence
// with: the simulated TEE, which every node of a testnet runs on.
func verifiers() attest.Verifiers { return attest.Verifiers{attest.PlatformSim: sim.Verifier{}} }

// address is a key's Ethereum address.
func address(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}
