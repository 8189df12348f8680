// Package chain runs an embedded, real EVM for development and tests: a
// go-ethereum node (in memory, dev genesis, chain id 1337, every fork
// active) whose blocks this package builds and imports itself, serving
// JSON-RPC over HTTP on loopback, plus the EIP-3009 test token of
// x402/chain/token.
//
// Blocks are sealed as soon as transactions are pending (after a short
// batching window, Config.BlockPeriod, so that concurrent settlements share
// a block) and every second when idle, so eth_call sees a fresh timestamp.
// Block timestamps must strictly increase in whole seconds; under load the
// chain clock therefore runs ahead of the wall clock, and Config.MaxLead
// bounds that lead so that EIP-3009 authorizations (validBefore = now +
// maxTimeoutSeconds) stay valid; idle, the lead decays.
package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/log"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/agentnet/agentnode/x402"
)

// ChainID is the chain id of every embedded chain (go-ethereum's dev
// chain configuration).
const ChainID = 1337

// Defaults of Config.
const (
	DefaultAddr        = "127.0.0.1:0"
	DefaultBlockPeriod = time.Millisecond
	DefaultIdlePeriod  = time.Second
	DefaultMaxLead     = 120 * time.Second
	DefaultGasLimit    = 60_000_000
)

// faucetBalance is the genesis balance of the faucet account: plenty for
// any dev or test run (10^9 ETH).
var faucetBalance = new(big.Int).Mul(big.NewInt(1_000_000_000), big.NewInt(params.Ether))

// Config configures Start. The zero value is usable: every zero field takes
// the default named in its doc.
type Config struct {
	// Addr is the TCP address of the JSON-RPC HTTP server. Default
	// "127.0.0.1:0" (a free loopback port); it must be a loopback address,
	// since the chain has no access control.
	Addr string
	// BlockPeriod is how long the sealer waits after the previous block
	// before sealing pending transactions, so that concurrent ones share a
	// block. Default 1ms (measured: see docs/x402.md); negative means no
	// wait at all.
	BlockPeriod time.Duration
	// IdlePeriod is the interval of empty blocks when nothing is pending
	// and the head is behind the wall clock, which keeps eth_call's block
	// time current. Default 1s.
	IdlePeriod time.Duration
	// MaxLead bounds how far block timestamps may run ahead of the wall
	// clock under load (every block adds at least a second); when reached,
	// blocks slow to one per second. Default 120s. Keep the
	// maxTimeoutSeconds of requirements served against this chain at least
	// a minute above it, or authorizations expire on chain early.
	MaxLead time.Duration
	// GasLimit is the block gas limit. Default 60M (about 600 EIP-3009
	// settlements per block).
	GasLimit uint64
	// Logger receives the chain's own events and go-ethereum's warnings.
	// Nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.BlockPeriod == 0 {
		c.BlockPeriod = DefaultBlockPeriod
	} else if c.BlockPeriod < 0 {
		c.BlockPeriod = 0
	}
	if c.IdlePeriod <= 0 {
		c.IdlePeriod = DefaultIdlePeriod
	}
	if c.MaxLead <= 0 {
		c.MaxLead = DefaultMaxLead
	}
	if c.GasLimit == 0 {
		c.GasLimit = DefaultGasLimit
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Chain is a running embedded chain. Its methods are safe for concurrent
// use.
type Chain struct {
	cfg    Config
	stack  *node.Node
	eth    *eth.Ethereum
	client *ethclient.Client
	faucet *ecdsa.PrivateKey
	signer types.Signer
	rpcURL string

	cancel context.CancelFunc
	done   chan struct{}

	closeOnce sync.Once
	closeErr  error

	// mu serializes the faucet's transactions and guards its nonce and the
	// default token.
	mu          sync.Mutex
	faucetNonce uint64
	token       common.Address
}

// Start starts a chain with a fresh in-memory state. The faucet account is
// funded in genesis; everything else is created through the Chain's
// methods. ctx bounds the start only; Close stops the chain.
func Start(ctx context.Context, cfg Config) (*Chain, error) {
	cfg = cfg.withDefaults()
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("start chain: addr %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("start chain: addr %q: %w", cfg.Addr, ErrNotLoopback)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("start chain: addr %q: bad port", cfg.Addr)
	}
	faucet, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("start chain: generate faucet key: %w", err)
	}

	nodeConf := node.DefaultConfig
	nodeConf.Name = "agentnode-chain"
	nodeConf.DataDir = ""
	nodeConf.IPCPath = ""
	nodeConf.HTTPHost = host
	nodeConf.HTTPPort = port
	nodeConf.HTTPModules = []string{"eth", "net", "web3"}
	nodeConf.HTTPVirtualHosts = []string{"localhost"}
	nodeConf.WSHost = ""
	nodeConf.AuthPort = 0
	nodeConf.P2P = p2p.Config{NoDiscovery: true, MaxPeers: 0, ListenAddr: ""}
	nodeConf.Logger = log.NewLogger(levelHandler{cfg.Logger.Handler(), slog.LevelWarn})

	alloc := core.SystemContractAllocs()
	alloc[crypto.PubkeyToAddress(faucet.PublicKey)] = types.Account{Balance: faucetBalance}
	ethConf := ethconfig.Defaults
	ethConf.Genesis = &core.Genesis{
		Config:    params.AllDevChainProtocolChanges,
		GasLimit:  cfg.GasLimit,
		Alloc:     alloc,
		Timestamp: uint64(time.Now().Unix() - 1),
	}
	ethConf.Miner.GasCeil = cfg.GasLimit
	ethConf.SyncMode = ethconfig.FullSync
	ethConf.TxPool.NoLocals = true
	// The log index costs a third of the chain's CPU under settlement
	// load (measured); eth_getLogs falls back to scanning blocks, which
	// only the rare crash-recovery lookup of a settler needs.
	ethConf.LogNoHistory = true
	// Every settlement of a burst can come from one gas key; let the pool
	// hold a deep queue per account.
	ethConf.TxPool.AccountSlots = 4096
	ethConf.TxPool.GlobalSlots = 16384

	stack, err := node.New(&nodeConf)
	if err != nil {
		return nil, fmt.Errorf("start chain: new node: %w", err)
	}
	backend, err := eth.New(stack, &ethConf)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start chain: new eth service: %w", err), stack.Close())
	}
	filterSystem := filters.NewFilterSystem(backend.APIBackend, filters.Config{})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(filterSystem)}})
	if err := stack.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start chain: start node: %w", err), stack.Close())
	}
	c := &Chain{
		cfg:    cfg,
		stack:  stack,
		eth:    backend,
		client: ethclient.NewClient(stack.Attach()),
		faucet: faucet,
		signer: types.LatestSignerForChainID(big.NewInt(ChainID)),
		rpcURL: stack.HTTPEndpoint(),
		done:   make(chan struct{}),
	}
	// The first block moves the chain off genesis so that eth_call and
	// fee estimation see a current timestamp and base fee.
	err = ctx.Err()
	if err == nil {
		err = c.seal()
	}
	if err != nil {
		c.client.Close()
		return nil, errors.Join(fmt.Errorf("start chain: first block: %w", err), stack.Close())
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	txs := make(chan core.NewTxsEvent, 256)
	sub := backend.TxPool().SubscribeTransactions(txs, false)
	go c.sealLoop(runCtx, txs, sub.Err(), sub.Unsubscribe)
	cfg.Logger.Info("dev chain started", "rpc", c.rpcURL, "chain_id", ChainID,
		"faucet", crypto.PubkeyToAddress(faucet.PublicKey), "block_period", cfg.BlockPeriod)
	return c, nil
}

// RPCURL returns the http:// URL of the JSON-RPC endpoint.
func (c *Chain) RPCURL() string { return c.rpcURL }

// ChainID returns the chain id (always ChainID).
func (c *Chain) ChainID() uint64 { return ChainID }

// Network returns the chain's CAIP-2 id, "eip155:1337".
func (c *Chain) Network() x402.Network { return x402.EIP155(ChainID) }

// Client returns an in-process client of the chain: the same API as the
// HTTP endpoint without its overhead, including subscriptions. It stays
// valid until Close.
func (c *Chain) Client() *ethclient.Client { return c.client }

// Faucet returns the address that funds accounts and deploys tokens.
func (c *Chain) Faucet() common.Address { return crypto.PubkeyToAddress(c.faucet.PublicKey) }

// Head returns the number and timestamp of the current block.
func (c *Chain) Head() (number uint64, timestamp time.Time) {
	h := c.eth.BlockChain().CurrentBlock()
	return h.Number.Uint64(), time.Unix(int64(h.Time), 0)
}

// Close stops the chain and releases its port. It is idempotent.
func (c *Chain) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		<-c.done
		c.client.Close()
		c.closeErr = c.stack.Close()
	})
	return c.closeErr
}

func (c *Chain) headTime() time.Time {
	return time.Unix(int64(c.eth.BlockChain().CurrentBlock().Time), 0)
}

// sleep waits for d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// levelHandler passes go-ethereum's records at or above min to the
// injected logger; its info-level chatter stays out.
type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelHandler{h.Handler.WithAttrs(attrs), h.min}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{h.Handler.WithGroup(name), h.min}
}
