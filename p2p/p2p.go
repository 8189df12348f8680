// Package p2p builds the node's place in the agentnet network: a go-libp2p
// host (TCP + Noise + yamux, QUIC optional, relay off, resource and
// connection managers with limits from config) and a private Kademlia DHT
// under the protocol prefix /agentnet, in server mode, bootstrapped only from
// configured peers, with the agent-card validator of package card. It also
// holds the framing helpers every agentnet stream protocol shares: length
// prefixed frames with a named size cap per read, and a [Service] that puts
// a deadline, a per-peer bound and Reset-on-error around each stream.
//
// Lifecycle follows tsnet: [New] checks the Config and opens nothing,
// [Host.Start] opens the host and the DHT (and closes both again if any step
// fails), [Host.Close] is idempotent.
package p2p

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/agentnet/agentnode/p2p/card"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p-kad-dht/records"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// ProtocolPrefix makes the DHT speak /agentnet/kad/1.0.0, so it can never
// merge with the public IPFS DHT (/ipfs/kad/1.0.0).
const ProtocolPrefix = "/agentnet"

// Host is a running libp2p host and its DHT.
type Host struct {
	cfg    Config
	listen []ma.Multiaddr
	boot   []peer.AddrInfo

	mu      sync.Mutex
	started bool
	closed  bool
	host    host.Host
	dht     *dht.IpfsDHT
}

// New checks cfg, fills in defaults and returns a host that is not yet
// started. It opens nothing.
func New(cfg Config) (*Host, error) {
	cfg, listen, boot, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Host{cfg: cfg, listen: listen, boot: boot}, nil
}

// Start opens the libp2p host and the DHT and dials the bootstrap peers.
// Unreachable bootstrap peers are logged, not fatal: the first node of a
// network has none that answer, and [Host.WaitReady] says when the routing
// table is usable. A failed start closes whatever it opened.
func (h *Host) Start(ctx context.Context) error {
	if err := h.open(ctx); err != nil {
		return err
	}
	h.connectBootstrap(ctx)
	return nil
}

// open starts the host and the DHT under the lock; bootstrap dials happen
// after it, so that a slow dial never blocks the accessors.
func (h *Host) open(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return ErrClosed
	case h.started:
		return nil
	}
	lh, err := h.newLibp2p()
	if err != nil {
		return fmt.Errorf("start p2p host: %w", err)
	}
	d, err := dht.New(lh, h.dhtOptions()...)
	if err != nil {
		return errors.Join(fmt.Errorf("start dht: %w", err), lh.Close())
	}
	if err := d.Bootstrap(ctx); err != nil {
		return errors.Join(fmt.Errorf("bootstrap dht: %w", err), d.Close(), lh.Close())
	}
	h.host, h.dht, h.started = lh, d, true
	h.cfg.Logger.Info("p2p host started", "peer", lh.ID(), "addrs", lh.Addrs())
	return nil
}

func (h *Host) newLibp2p() (host.Host, error) {
	rm, err := h.resourceManager()
	if err != nil {
		return nil, err
	}
	cm, err := connmgr.NewConnManager(h.cfg.ConnLow, h.cfg.ConnHigh, connmgr.WithGracePeriod(h.cfg.ConnGrace))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("connection manager: %w", err), rm.Close())
	}
	opts := []libp2p.Option{
		libp2p.Identity(h.cfg.Identity),
		// Listening happens after construction: a listen failure inside
		// libp2p.New leaks the swarm's goroutines, h.Close after it does not.
		libp2p.NoListenAddrs,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.DisableRelay(),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.DisableMetrics(),
		libp2p.UserAgent(h.cfg.UserAgent),
	}
	if h.cfg.EnableQUIC {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	lh, err := libp2p.New(opts...)
	if err != nil {
		// libp2p.New closes the managers handed in when it fails.
		return nil, fmt.Errorf("new libp2p host: %w", err)
	}
	if err := lh.Network().Listen(h.listen...); err != nil {
		// The host owns the managers now and closes them.
		return nil, errors.Join(fmt.Errorf("listen on %v: %w", h.cfg.ListenAddrs, err), lh.Close())
	}
	return lh, nil
}

func (h *Host) resourceManager() (network.ResourceManager, error) {
	var limits rcmgr.ConcreteLimitConfig
	switch {
	case h.cfg.UnlimitedResources:
		limits = rcmgr.InfiniteLimits
	default:
		scaling := rcmgr.DefaultLimits
		libp2p.SetDefaultServiceLimits(&scaling)
		if h.cfg.MaxMemory == 0 && h.cfg.MaxFDs == 0 {
			limits = scaling.AutoScale()
		} else {
			mem, fds := h.cfg.MaxMemory, h.cfg.MaxFDs
			if mem == 0 {
				mem = 1 << 30
			}
			if fds == 0 {
				fds = 4096
			}
			limits = scaling.Scale(mem, fds)
		}
	}
	var opts []rcmgr.Option
	if h.cfg.ResourceBlocked != nil {
		opts = append(opts, rcmgr.WithMetrics(blockReporter(h.cfg.ResourceBlocked)))
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits), opts...)
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	return rm, nil
}

func (h *Host) dhtOptions() []dht.Option {
	v := record.NamespacedValidator{card.Namespace: card.Validator{Now: h.cfg.Now}}
	return []dht.Option{
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(ProtocolPrefix),
		dht.Validator(v),
		dht.BootstrapPeers(h.boot...),
		dht.BucketSize(h.cfg.BucketSize),
		dht.MaxRecordAge(h.cfg.TTL.MaxRecordAge),
		dht.ProviderManagerOpts(records.ProvideValidity(h.cfg.TTL.ProvideValidity)),
	}
}

// connectBootstrap dials every bootstrap peer in parallel, bounded by ctx.
func (h *Host) connectBootstrap(ctx context.Context) {
	lh, _, err := h.running()
	if err != nil {
		return // closed meanwhile
	}
	var wg sync.WaitGroup
	for _, ai := range h.boot {
		if ai.ID == lh.ID() {
			continue
		}
		wg.Go(func() {
			if err := lh.Connect(ctx, ai); err != nil {
				h.cfg.Logger.Warn("dial bootstrap peer", "peer", ai.ID, "err", err)
			}
		})
	}
	wg.Wait()
}

// Close stops the DHT and the host. It is idempotent and safe to call on a
// host that never started.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	if !h.started {
		return nil
	}
	err := errors.Join(h.dht.Close(), h.host.Close())
	if err != nil {
		return fmt.Errorf("close p2p host: %w", err)
	}
	return nil
}

// running returns the host and DHT, or ErrNotStarted.
func (h *Host) running() (host.Host, *dht.IpfsDHT, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started || h.closed {
		return nil, nil, ErrNotStarted
	}
	return h.host, h.dht, nil
}

// Libp2p returns the libp2p host, for registering stream protocols. It is
// nil before Start.
func (h *Host) Libp2p() host.Host {
	lh, _, _ := h.running()
	return lh
}

// DHT returns the DHT, which implements the routing interfaces of packages
// card and discovery. It is nil before Start.
func (h *Host) DHT() *dht.IpfsDHT {
	_, d, _ := h.running()
	return d
}

// ID returns the peer id derived from the identity key.
func (h *Host) ID() peer.ID {
	id, err := peer.IDFromPrivateKey(h.cfg.Identity)
	if err != nil {
		return "" // New accepted only Ed25519 keys, which always derive an id.
	}
	return id
}

// TTL returns the record-lifetime profile in force, for the card publisher.
func (h *Host) TTL() TTL { return h.cfg.TTL }

// AddrInfo returns the peer id and listen addresses, for bootstrapping
// other hosts. Before Start it has no addresses.
func (h *Host) AddrInfo() peer.AddrInfo {
	lh, _, err := h.running()
	if err != nil {
		return peer.AddrInfo{ID: h.ID()}
	}
	return peer.AddrInfo{ID: lh.ID(), Addrs: lh.Addrs()}
}

// P2PAddrs returns the listen addresses with /p2p/<peer id> appended: the
// strings another node puts in Config.Bootstrap.
func (h *Host) P2PAddrs() []string {
	mas, err := peer.AddrInfoToP2pAddrs(ptr(h.AddrInfo()))
	if err != nil {
		return nil
	}
	out := make([]string, len(mas))
	for i, a := range mas {
		out[i] = a.String()
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// Peers returns the peers with an open connection, sorted.
func (h *Host) Peers() []peer.ID {
	lh, _, err := h.running()
	if err != nil {
		return nil
	}
	ps := lh.Network().Peers()
	slices.Sort(ps)
	return ps
}

// RoutingTableSize returns how many peers the DHT routing table holds.
func (h *Host) RoutingTableSize() int {
	_, d, err := h.running()
	if err != nil {
		return 0
	}
	return d.RoutingTable().Size()
}

// readyPoll is how often WaitReady looks at the routing table, and
// readyRefresh how often it asks the DHT to refresh it.
const (
	readyPoll    = 20 * time.Millisecond
	readyRefresh = 2 * time.Second
)

// WaitReady blocks until the DHT routing table holds at least minPeers
// peers, refreshing it meanwhile, or ctx ends. Lookups made before the table
// has peers fail with "failed to find any peer in table".
func (h *Host) WaitReady(ctx context.Context, minPeers int) error {
	_, d, err := h.running()
	if err != nil {
		return err
	}
	poll := time.NewTicker(readyPoll)
	defer poll.Stop()
	lastRefresh := time.Now()
	d.RefreshRoutingTable() // buffered result channel, safe to ignore
	for {
		if n := d.RoutingTable().Size(); n >= minPeers {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d routing table peers (have %d): %w", minPeers, d.RoutingTable().Size(), ctx.Err())
		case now := <-poll.C:
			if now.Sub(lastRefresh) >= readyRefresh {
				lastRefresh = now
				d.RefreshRoutingTable()
			}
		}
	}
}
