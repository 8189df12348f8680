package p2p_test

import (
	"context"
	"crypto/rand"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/p2p"
	"github.com/agentnet/agentnode/p2p/p2ptest"
	"github.com/libp2p/go-libp2p/core/crypto"
)

func TestNewRejectsBadConfig(t *testing.T) {
	rsa, _, err := crypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(c *p2p.Config){
		"no identity":         func(c *p2p.Config) { c.Identity = nil },
		"not ed25519":         func(c *p2p.Config) { c.Identity = rsa },
		"bad listen":          func(c *p2p.Config) { c.ListenAddrs = []string{"127.0.0.1:4001"} },
		"bootstrap no peer":   func(c *p2p.Config) { c.Bootstrap = []string{"/ip4/127.0.0.1/tcp/4001"} },
		"bootstrap garbage":   func(c *p2p.Config) { c.Bootstrap = []string{"nope"} },
		"watermarks":          func(c *p2p.Config) { c.ConnLow, c.ConnHigh = 10, 5 },
		"negative memory":     func(c *p2p.Config) { c.MaxMemory = -1 },
		"reprovide too long":  func(c *p2p.Config) { c.TTL.Reprovide = c.TTL.ProvideValidity },
		"republish too long":  func(c *p2p.Config) { c.TTL.CardRepublish = c.TTL.CardLifetime },
		"card outlives store": func(c *p2p.Config) { c.TTL.CardLifetime = c.TTL.MaxRecordAge + time.Second },
		"tiny bucket":         func(c *p2p.Config) { c.BucketSize = 1 },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := p2ptest.Config(t)
			mod(&cfg)
			if _, err := p2p.New(cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := p2p.ParseTTL("weekly"); !errors.Is(err, p2p.ErrInvalidConfig) {
		t.Fatalf("ParseTTL: %v", err)
	}
	for _, name := range []string{"testnet", "production"} {
		ttl, err := p2p.ParseTTL(name)
		if err != nil || ttl.Validate() != nil {
			t.Fatalf("profile %s: %v", name, err)
		}
	}
}

func TestLifecycle(t *testing.T) {
	h, err := p2p.New(p2ptest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	if h.Libp2p() != nil || h.DHT() != nil {
		t.Fatal("host exists before Start")
	}
	if err := h.WaitReady(context.Background(), 1); !errors.Is(err, p2p.ErrNotStarted) {
		t.Fatalf("WaitReady before start: %v", err)
	}
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if h.Libp2p().ID() != h.ID() || len(h.P2PAddrs()) == 0 {
		t.Fatal("host identity or addresses missing")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := h.Start(ctx); !errors.Is(err, p2p.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if h.Libp2p() != nil {
		t.Fatal("host still exposed after Close")
	}
}

func TestFailedStartClosesWhatItOpened(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		cfg := p2ptest.Config(t)
		cfg.UnlimitedResources = false
		cfg.MaxMemory = 64 << 20
		// 192.0.2.0/24 is TEST-NET-1: no local interface has it, so bind
		// fails after the resource and connection managers exist.
		cfg.ListenAddrs = []string{"/ip4/192.0.2.1/tcp/0"}
		h, err := p2p.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Start(context.Background()); err == nil {
			t.Fatal("start on a foreign address succeeded")
		}
		if h.Libp2p() != nil {
			t.Fatal("failed start left a host")
		}
		_ = h.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines %d -> %d after failed starts:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNetworkReady(t *testing.T) {
	nw := p2ptest.StartNetwork(t, 4, nil)
	for i, h := range nw.Hosts {
		if n := h.RoutingTableSize(); n < 3 {
			t.Errorf("host %d routing table %d", i, n)
		}
		if len(h.Peers()) < 3 {
			t.Errorf("host %d connected to %d peers", i, len(h.Peers()))
		}
		for _, p := range h.Libp2p().Mux().Protocols() {
			if p == "/ipfs/kad/1.0.0" {
				t.Errorf("host %d speaks the public IPFS DHT", i)
			}
		}
	}
	found := false
	for _, p := range nw.Hosts[0].Libp2p().Mux().Protocols() {
		found = found || p == "/agentnet/kad/1.0.0"
	}
	if !found {
		t.Fatal("private DHT protocol not registered")
	}
}

func TestQUICAndLimits(t *testing.T) {
	cfg := p2ptest.Config(t)
	cfg.EnableQUIC = true
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/udp/0/quic-v1", "/ip4/127.0.0.1/tcp/0"}
	cfg.UnlimitedResources = false
	cfg.MaxMemory, cfg.MaxFDs = 256<<20, 256
	cfg.ConnLow, cfg.ConnHigh = 2, 4
	cfg.UserAgent = "agentnode/quic-test"
	a := p2ptest.StartHost(t, cfg)
	var quicAddr string
	for _, s := range a.P2PAddrs() {
		if strings.Contains(s, "/quic-v1/") {
			quicAddr = s
		}
	}
	if quicAddr == "" {
		t.Fatalf("no QUIC address in %v", a.P2PAddrs())
	}
	bcfg := p2ptest.Config(t)
	bcfg.EnableQUIC = true
	bcfg.ListenAddrs = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	bcfg.Bootstrap = []string{quicAddr}
	b := p2ptest.StartHost(t, bcfg)
	conns := b.Libp2p().Network().ConnsToPeer(a.ID())
	if len(conns) == 0 || !strings.Contains(conns[0].RemoteMultiaddr().String(), "quic-v1") {
		t.Fatalf("no QUIC connection: %v", conns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.WaitReady(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Identify told b who a is.
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _ := b.Libp2p().Peerstore().Get(a.ID(), "AgentVersion")
		if v == "agentnode/quic-test" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("user agent %v", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
