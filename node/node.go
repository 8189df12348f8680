// Package node is the composition root of agentnode: [New] turns a Config
// into a running node — identity key, TEE attester, WebAssembly executor,
// enclave, HTTP bridge — and [Node.Close] takes it down. It is the only
// package that wires the others together; cmd/agentnode only parses flags.
package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/detect"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/node/activity"
	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/bridge"
)

// Version is the node's version, set at build time with
// -ldflags "-X github.com/agentnet/agentnode/node.Version=v1.2.3".
var Version = "dev"

// Node is a running agentnode.
type Node struct {
	cfg      Config
	log      *slog.Logger
	id       *enclave.Identity
	exec     *wasm.Executor
	enc      *enclave.Enclave
	registry *prometheus.Registry
	claims   *attest.Claims

	agents     *agentstore.Store
	peerPolicy *attest.Policy
	// agentMu orders agent changes with the card changes they cause.
	agentMu sync.Mutex
	net     *network // nil when p2p is off

	// pay is nil when the node neither takes nor makes payments.
	pay *payments
	// activity keeps the recent runs, calls and payments for the status
	// page.
	activity *activity.Log

	ln     net.Listener
	server *http.Server
	served chan struct{}

	started   bool
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg (filling its defaults) and returns a node ready to
// start. It opens nothing.
func New(cfg Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	policy, err := cfg.peerPolicy()
	if err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, log: log, registry: prometheus.NewRegistry(), served: make(chan struct{}), peerPolicy: policy,
		activity: activity.New(activity.DefaultSize)}, nil
}

// Start opens everything and starts serving the bridge. A failed start
// closes what it opened; a node starts at most once.
func (n *Node) Start(ctx context.Context) (err error) {
	if n.started {
		return errors.New("start node: already started")
	}
	n.started = true
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Close())
		}
	}()
	cfg, log := n.cfg, n.log
	n.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if n.id, err = enclave.LoadOrCreateIdentity(filepath.Join(cfg.DataDir, "identity.key")); err != nil {
		return err
	}
	attester, err := n.attester()
	if err != nil {
		return err
	}
	if n.claims, err = selfCheck(ctx, attester, n.id, cfg.Verifiers); err != nil {
		return err
	}
	agentNet, err := n.newAgentNet()
	if err != nil {
		return err
	}
	if n.exec, err = wasm.New(ctx, wasm.Config{
		MemoryPages:    cfg.WasmMemoryPages,
		Timeout:        cfg.WasmTimeout.Duration,
		MaxOutputBytes: cfg.WasmMaxOutputBytes,
		MaxModuleBytes: cfg.WasmMaxModuleBytes,
		Fuel:           cfg.WasmFuel,
		MaxConcurrent:  cfg.MaxConcurrentExecutions,
		CacheDir:       cfg.ExecutorPath,
		HostModules:    []wasm.HostModule{agentNet},
		Logger:         log.With("component", "wasm"),
	}); err != nil {
		return fmt.Errorf("start executor: %w", err)
	}
	if n.agents, err = n.openAgents(ctx); err != nil {
		return err
	}
	if n.enc, err = enclave.New(enclave.Config{
		Identity:      n.id,
		Attester:      attester,
		Executor:      n.exec,
		Agents:        n.agents,
		SessionTTL:    cfg.SessionTTL.Duration,
		MaxSessions:   cfg.MaxSessions,
		AttestResults: cfg.AttestResults,
		Logger:        log.With("component", "enclave"),
	}); err != nil {
		return err
	}
	if err := n.startPayments(ctx); err != nil {
		return err
	}
	page, err := n.statusPage()
	if err != nil {
		return err
	}
	br, err := bridge.New(bridge.Config{
		Enclave:               n.enc,
		NodeInfo:              n.info,
		Registry:              n.registry,
		MaxBodyBytes:          cfg.MaxBodyBytes,
		APIToken:              cfg.APIToken,
		RatePerIP:             cfg.RateLimitPerIP,
		RateBurst:             cfg.RateLimitBurst,
		MaxInflightExecutions: cfg.MaxInflightExecutions,
		Payments:              n.paymentsAPI(),
		Facilitator:           n.facilitatorAPI(),
		Agents:                agentsAPI{n},
		Network:               n.networkAPI(),
		AgentRuns:             agentCalls{n},
		Activity:              n.activity,
		UI:                    page,
		Logger:                log.With("component", "bridge"),
	})
	if err != nil {
		return err
	}
	if n.ln, err = net.Listen("tcp", cfg.Listening); err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listening, err)
	}
	if cfg.P2PEnabled() {
		if err := n.startP2P(ctx, br); err != nil {
			return err
		}
	}
	n.server = &http.Server{
		Handler:           br.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(n.served)
		if err := n.server.Serve(n.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("bridge stopped", "err", err)
		}
	}()
	log.Info("node started", "peer_id", n.id.PeerID(), "platform", attester.Platform(), "bridge", n.BridgeURL(), "data_dir", cfg.DataDir)
	return nil
}

// attester returns the TEE attester the configuration selects.
func (n *Node) attester() (attest.Attester, error) {
	if n.cfg.Attester != nil {
		return n.cfg.Attester, nil
	}
	if n.cfg.TEE == "sim" {
		return simAttester(n.cfg.DataDir)
	}
	a, err := detect.Open(detect.Config{TEE: n.cfg.TEE, Logger: n.log.With("component", "tee")})
	if err != nil {
		return nil, fmt.Errorf("open TEE: %w", err)
	}
	return a, nil
}

// simAttester returns the simulated TEE, signing with a key kept in the
// data dir and claiming the running binary's SHA-384 as its measurement.
func simAttester(dataDir string) (attest.Attester, error) {
	path := filepath.Join(dataDir, "sim-tee.key")
	seed, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		seed = make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, fmt.Errorf("create sim TEE key: %w", err)
		}
		if err := os.WriteFile(path, seed, 0o600); err != nil {
			return nil, fmt.Errorf("write sim TEE key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read sim TEE key: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("sim TEE key %s: %d bytes, want %d", path, len(seed), ed25519.SeedSize)
	}
	m, err := binaryMeasurement()
	if err != nil {
		return nil, err
	}
	return sim.NewAttester(ed25519.NewKeyFromSeed(seed), m), nil
}

// binaryMeasurement is the SHA-384 of the running executable: what a
// measured boot would record for it, as it was when first measured. It is
// computed once per process, like a boot measurement: the agentnode
// binary is about 100 MB, and a testnet of 50 nodes in one process would
// otherwise hash it 50 times (10 CPU-seconds).
var binaryMeasurement = sync.OnceValues(measureBinary)

func measureBinary() ([sim.MeasurementSize]byte, error) {
	var m [sim.MeasurementSize]byte
	exe, err := os.Executable()
	if err != nil {
		return m, fmt.Errorf("measure binary: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return m, fmt.Errorf("measure binary: %w", err)
	}
	defer f.Close()
	h := sha512.New384()
	if _, err := io.Copy(h, f); err != nil {
		return m, fmt.Errorf("measure binary: %w", err)
	}
	h.Sum(m[:0])
	return m, nil
}

// selfCheck attests once at start and verifies the evidence with the
// verifier of its own platform: a broken TEE is found now, not by the first
// client, and the claims give /v1/node its measurements.
func selfCheck(ctx context.Context, a attest.Attester, id *enclave.Identity, vs attest.Verifiers) (*attest.Claims, error) {
	rd := attest.CardReportData(id.PublicKey(), uint64(time.Now().Unix()))
	ev, err := a.Attest(ctx, rd)
	if err != nil {
		return nil, fmt.Errorf("attest at start: %w", err)
	}
	if vs == nil {
		if vs, err = detect.Verifiers(detect.VerifierConfig{}); err != nil {
			return nil, fmt.Errorf("verify own evidence at start: %w", err)
		}
	}
	policy := &attest.Policy{AcceptSim: true, AllowDebug: true}
	claims, err := vs.Verify(ctx, ev, rd, policy)
	if errors.Is(err, attest.ErrNoVerifier) {
		return &attest.Claims{Platform: ev.Platform}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("verify own evidence at start: %w", err)
	}
	return claims, nil
}

func (n *Node) info() api.NodeInfo {
	info := api.NodeInfo{
		PeerID:         n.id.PeerID().String(),
		IdentityPubkey: fmt.Sprintf("%x", n.id.PublicKey()),
		Platform:       string(n.claims.Platform),
		Measurements:   map[string]string{},
		Version:        Version,
	}
	for k, v := range n.claims.Measurements {
		info.Measurements[k] = v.String()
	}
	for _, s := range seal.Suites() {
		info.Suites = append(info.Suites, string(s))
	}
	info.Addresses = n.P2PAddrs()
	return info
}

// BridgeURL returns the bridge's base URL.
func (n *Node) BridgeURL() string { return "http://" + n.ln.Addr().String() }

// PeerID returns the node's peer id.
func (n *Node) PeerID() string { return n.id.PeerID().String() }

// Close stops the node: the bridge first (in-flight requests get 5 s), then
// the p2p network, then the executor. It is idempotent.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := n.server.Shutdown(ctx); err != nil {
				// Connections that stayed busy past the grace period (or
				// were dialled and never used) are cut.
				errs = append(errs, n.server.Close())
			}
			cancel()
			<-n.served
		} else if n.ln != nil {
			errs = append(errs, n.ln.Close())
		}
		if n.net != nil {
			errs = append(errs, n.net.close())
		}
		errs = append(errs, n.closePayments())
		if n.exec != nil {
			errs = append(errs, n.exec.Close(context.Background()))
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}
