package node

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/BurntSushi/toml"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/node/ui"
	"github.com/agentnet/agentnode/p2p"
)

// Config is a node's configuration: one flat TOML table. Every field's doc
// states its default; [Config.Validate] fills defaults and checks values
// before anything opens. The keys `listening`, `app_path` and
// `executor_path` keep the meaning they had in the seed's hypervisor.toml.
type Config struct {
	// Listening is the bridge's listen address. Default "127.0.0.1:3000".
	Listening string `toml:"listening"`
	// DataDir holds the identity key, the compile cache and the database.
	// Default "$HOME/.agentnode".
	DataDir string `toml:"data_dir"`
	// AppPath holds deployed agents (module + agent.toml per directory).
	// Default "<data_dir>/agents".
	AppPath string `toml:"app_path"`
	// ExecutorPath is the on-disk cache of compiled modules. Default
	// "<data_dir>/wasm-cache".
	ExecutorPath string `toml:"executor_path"`
	// TEE selects the attestation platform: "tdx", "snp", "auto" (the
	// hardware TEE found; the node refuses to start without one) or "sim"
	// (software, for development and testnets only). Default "auto";
	// `agentnode dev` uses "sim".
	TEE string `toml:"tee"`
	// AttestResults attaches fresh evidence to every result. Default false
	// (clients ask per request).
	AttestResults bool `toml:"attest_results"`
	// SessionTTL is a session's lifetime. Default "1h".
	SessionTTL Duration `toml:"session_ttl"`
	// MaxSessions bounds the session table. Default 1024.
	MaxSessions int `toml:"max_sessions"`
	// WasmMemoryPages caps a module's linear memory in 64 KiB pages.
	// Default 256 (16 MiB).
	WasmMemoryPages uint32 `toml:"wasm_memory_pages"`
	// WasmTimeout is the wall-clock limit of one execution. Default "5s".
	WasmTimeout Duration `toml:"wasm_timeout"`
	// WasmMaxOutputBytes caps a module's stdout. Default 1 MiB.
	WasmMaxOutputBytes int `toml:"wasm_max_output_bytes"`
	// WasmMaxModuleBytes caps a module's size. Default 4 MiB.
	WasmMaxModuleBytes int `toml:"wasm_max_module_bytes"`
	// WasmFuel is the fuel budget of a run that has none of its own (an
	// agent's max_fuel sets one). Default 1e12 units, so that wasm_timeout,
	// not fuel, ends ordinary runs; see docs/metering.md for the units.
	WasmFuel uint64 `toml:"wasm_fuel"`
	// MaxConcurrentExecutions bounds executions running at once; the rest
	// wait. Default 2 x GOMAXPROCS.
	MaxConcurrentExecutions int `toml:"max_concurrent_executions"`
	// MaxBodyBytes caps a bridge request body. Default 16 MiB.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// APIToken, when set, is required on every bridge route but /healthz as
	// "Authorization: Bearer <token>". Required when Listening is not a
	// loopback address. Default "" (loopback only).
	APIToken string `toml:"api_token"`
	// RateLimitPerIP limits bridge requests per second from one address;
	// 0 means no limit (the default: a loopback bridge has one client).
	RateLimitPerIP float64 `toml:"rate_limit_per_ip"`
	// RateLimitBurst is the burst the per-IP limit allows. Default: the
	// rate, at least 1.
	RateLimitBurst int `toml:"rate_limit_burst"`
	// MaxInflightExecutions bounds executions the bridge takes in (running
	// or queued); more are shed with 503 and Retry-After. Default 64.
	MaxInflightExecutions int `toml:"max_inflight_executions"`
	// Price is the execution price in the payment token's atomic units;
	// 0 means free. A price needs the payment keys (asset, pay_to, a
	// facilitator); `agentnode dev` charges 10000 by default.
	Price uint64 `toml:"price"`
	// LogLevel is "debug", "info", "warn" or "error". Default "info".
	LogLevel string `toml:"log_level"`

	// P2P turns the peer-to-peer network on: advertising the node's
	// agents, search and remote calls. Default true; false runs the bridge
	// alone.
	P2P *bool `toml:"p2p"`
	// P2PListen are the libp2p listen multiaddrs. Default
	// ["/ip4/127.0.0.1/tcp/0"] (loopback, a new port each start): a node
	// others reach lists a routable address with a fixed port.
	P2PListen []string `toml:"p2p_listen"`
	// Bootstrap lists the peers to join the network through, multiaddrs
	// ending in /p2p/<peer id>. Default none: the node starts a network.
	Bootstrap []string `toml:"bootstrap"`
	// P2PTTL is the record-lifetime profile, "testnet" (cards live 15 min)
	// or "production" (24 h). Every node of a network must use the same.
	// Default "production".
	P2PTTL string `toml:"p2p_ttl"`
	// PeerPolicy is a policy file (docs/policy.md) that other nodes'
	// evidence must satisfy for their agents to appear in search results
	// and be called. Default: genuine TDX or SNP hardware, any
	// measurement; when tee = "sim", the simulated TEE too.
	PeerPolicy string `toml:"peer_policy"`
	// P2PReadTimeout bounds the wait for a peer's request on every stream
	// protocol, and a whole session exchange. Default "10s".
	P2PReadTimeout Duration `toml:"p2p_read_timeout"`
	// P2PAcceptModules lets network peers run modules they send, not only
	// the node's deployed agents. Default false.
	P2PAcceptModules bool `toml:"p2p_accept_modules"`
	// P2PRateLimitPerPeer limits the streams one peer may open per second
	// on each stream protocol (attest, card, exec); a stream over it is
	// reset unread and counted in agentnode_p2p_refused_total. 0 (the
	// default) sets no rate: each peer is still bounded to a few
	// concurrent streams per protocol.
	P2PRateLimitPerPeer float64 `toml:"p2p_rate_limit_per_peer"`
	// P2PRateLimitBurst is the burst the per-peer rate allows. Default:
	// the rate, at least 1.
	P2PRateLimitBurst int `toml:"p2p_rate_limit_burst"`
	// P2PMaxMemory (bytes) and P2PMaxFDs scale the libp2p resource
	// manager's limits on connections, streams and memory (system-wide,
	// per peer, per protocol). 0, the default, autoscales to the machine:
	// an eighth of its memory and half its file descriptors.
	P2PMaxMemory int64 `toml:"p2p_max_memory"`
	P2PMaxFDs    int   `toml:"p2p_max_fds"`

	// TTL, when set, replaces the p2p_ttl profile: tests use lifetimes of
	// seconds to watch records expire.
	TTL p2p.TTL `toml:"-"`

	// Attester, when set, replaces the TEE selected by TEE: tests use it
	// to run a node on a fake TDX or SNP provider.
	Attester attest.Attester `toml:"-"`
	// Verifiers, when set, replaces the verifiers (vendor roots) the node
	// checks its own evidence with at start: a test whose Attester signs
	// with fake roots passes verifiers that trust them.
	Verifiers attest.Verifiers `toml:"-"`
	// Status, when set, replaces what the status page (GET /ui/) shows,
	// which is by default this node and its connections: the testnet
	// gives its first node a view of every node.
	Status ui.Source `toml:"-"`

	// PaymentConfig holds the x402 keys (rpc_url, asset, pay_to, ...),
	// in the same flat table; see paymentconfig.go.
	PaymentConfig
	// AgentCallConfig holds the agent-to-agent keys (agent_call_depth,
	// agent_budget, agent_calls_per_run); see agentcallconfig.go.
	AgentCallConfig
}

// Duration is a time.Duration written in TOML as a string like "90s".
type Duration struct{ time.Duration }

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MaxConfigSize caps a configuration file.
const MaxConfigSize = 1 << 20

// LoadConfig reads a TOML configuration file. Unknown keys are errors: a
// misspelt limit must not silently fall back to its default.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig decodes a TOML configuration.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if len(b) > MaxConfigSize {
		return c, fmt.Errorf("parse config: %d bytes, over %d", len(b), MaxConfigSize)
	}
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&c)
	if err != nil {
		return c, fmt.Errorf("parse config: %w", err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		return c, fmt.Errorf("parse config: unknown key %q", undec[0].String())
	}
	return c, nil
}

// Validate fills defaults and checks every value.
func (c *Config) Validate() error {
	if c.Listening == "" {
		c.Listening = "127.0.0.1:3000"
	}
	host, _, err := net.SplitHostPort(c.Listening)
	if err != nil {
		return fmt.Errorf("config listening %q: %w", c.Listening, err)
	}
	if !isLoopback(host) && c.APIToken == "" {
		return fmt.Errorf("config listening %q is not a loopback address: set api_token so that only holders of the token can use the bridge", c.Listening)
	}
	if c.APIToken != "" && len(c.APIToken) < 16 {
		return errors.New("config api_token: use at least 16 characters")
	}
	if c.DataDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("config data_dir: none given and no home directory: %w", err)
		}
		c.DataDir = filepath.Join(home, ".agentnode")
	}
	if c.AppPath == "" {
		c.AppPath = filepath.Join(c.DataDir, "agents")
	}
	if c.ExecutorPath == "" {
		c.ExecutorPath = filepath.Join(c.DataDir, "wasm-cache")
	}
	if c.TEE == "" {
		c.TEE = "auto"
	}
	switch c.TEE {
	case "auto", "tdx", "snp", "sim":
	default:
		return fmt.Errorf("config tee %q: want auto, tdx, snp or sim", c.TEE)
	}
	if c.SessionTTL.Duration == 0 {
		c.SessionTTL.Duration = time.Hour
	}
	if c.WasmTimeout.Duration == 0 {
		c.WasmTimeout.Duration = 5 * time.Second
	}
	if c.WasmMemoryPages > 65536 {
		return fmt.Errorf("config wasm_memory_pages %d: at most 65536 (4 GiB)", c.WasmMemoryPages)
	}
	var errs []error
	for name, v := range map[string]int64{"session_ttl": int64(c.SessionTTL.Duration), "wasm_timeout": int64(c.WasmTimeout.Duration),
		"max_sessions": int64(c.MaxSessions), "wasm_max_output_bytes": int64(c.WasmMaxOutputBytes),
		"wasm_max_module_bytes": int64(c.WasmMaxModuleBytes), "max_concurrent_executions": int64(c.MaxConcurrentExecutions),
		"rate_limit_burst": int64(c.RateLimitBurst), "max_inflight_executions": int64(c.MaxInflightExecutions),
		"max_body_bytes": c.MaxBodyBytes} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("config %s: negative", name))
		}
	}
	if c.RateLimitPerIP < 0 {
		errs = append(errs, errors.New("config rate_limit_per_ip: negative"))
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("config log_level %q: want debug, info, warn or error", c.LogLevel))
	}
	errs = append(errs, c.validateP2P(), c.validatePayments(c.Price), c.validateAgentCalls())
	return errors.Join(errs...)
}

// isLoopback reports whether a listen host binds loopback only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// P2PEnabled reports whether the node joins the p2p network.
func (c *Config) P2PEnabled() bool { return c.P2P == nil || *c.P2P }

// validateP2P fills the p2p defaults and checks the addresses and the TTL
// profile, so that a typo fails before anything opens.
func (c *Config) validateP2P() error {
	if c.P2P == nil {
		on := true
		c.P2P = &on
	}
	if len(c.P2PListen) == 0 {
		c.P2PListen = slices.Clone(p2p.DefaultListenAddrs)
	}
	if c.P2PTTL == "" {
		c.P2PTTL = "production"
	}
	if c.P2PReadTimeout.Duration == 0 {
		c.P2PReadTimeout.Duration = 10 * time.Second
	}
	var errs []error
	for _, a := range c.P2PListen {
		if _, err := ma.NewMultiaddr(a); err != nil {
			errs = append(errs, fmt.Errorf("config p2p_listen %q: %w", a, err))
		}
	}
	if _, err := p2p.ParseAddrInfos(c.Bootstrap); err != nil {
		errs = append(errs, fmt.Errorf("config bootstrap: %w", err))
	}
	if _, err := p2p.ParseTTL(c.P2PTTL); err != nil {
		errs = append(errs, fmt.Errorf("config p2p_ttl: %w", err))
	}
	if c.TTL != (p2p.TTL{}) {
		if err := c.TTL.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("config ttl: %w", err))
		}
	}
	if c.P2PReadTimeout.Duration < 0 {
		errs = append(errs, errors.New("config p2p_read_timeout: negative"))
	}
	if c.P2PRateLimitPerPeer < 0 || c.P2PRateLimitBurst < 0 {
		errs = append(errs, errors.New("config p2p_rate_limit_per_peer, p2p_rate_limit_burst: negative"))
	}
	if c.P2PMaxMemory < 0 || c.P2PMaxFDs < 0 {
		errs = append(errs, errors.New("config p2p_max_memory, p2p_max_fds: negative"))
	}
	return errors.Join(errs...)
}

// ttl returns the record-lifetime profile in force.
func (c *Config) ttl() p2p.TTL {
	if c.TTL != (p2p.TTL{}) {
		return c.TTL
	}
	t, _ := p2p.ParseTTL(c.P2PTTL) // checked by Validate
	return t
}

// peerPolicy returns the policy peers' evidence must satisfy.
func (c *Config) peerPolicy() (*attest.Policy, error) {
	if c.PeerPolicy != "" {
		p, err := attest.LoadPolicy(c.PeerPolicy)
		if err != nil {
			return nil, fmt.Errorf("config peer_policy: %w", err)
		}
		return p, nil
	}
	if c.TEE == "sim" {
		return attest.DevPolicy(), nil
	}
	return attest.DefaultPolicy(), nil
}
