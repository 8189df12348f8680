// Package p2ptest starts real agentnet hosts on loopback TCP for tests:
// one host, or a network of N that bootstrap from the first two and wait
// until their routing tables are full enough for lookups to work. It also
// makes the identities and simulated TEEs the hosts need.
package p2ptest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/p2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ShortTTL is a record-lifetime profile in seconds, so that tests see
// records expire: cards live 3 s and are re-issued every second.
func ShortTTL() p2p.TTL {
	return p2p.TTL{
		ProvideValidity: 6 * time.Second,
		Reprovide:       2 * time.Second,
		MaxRecordAge:    8 * time.Second,
		CardLifetime:    3 * time.Second,
		CardRepublish:   time.Second,
	}
}

// NewIdentity returns a fresh Ed25519 identity key.
func NewIdentity(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatalf("generate identity: %v", err)
	}
	return k
}

// Measurement returns what the simulated TEEs of NewAttester claim to run.
func Measurement() (m [sim.MeasurementSize]byte) {
	copy(m[:], "agentnode p2ptest")
	return m
}

// NewAttester returns a simulated TEE with a fresh signing key.
func NewAttester(t testing.TB) *sim.Attester {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate sim key: %v", err)
	}
	return sim.NewAttester(k, Measurement())
}

// Verifiers returns the verifier set that accepts NewAttester's evidence
// under attest.DevPolicy.
func Verifiers() attest.Verifiers { return attest.Verifiers{attest.PlatformSim: sim.Verifier{}} }

// Config returns a host config for tests: a fresh identity, loopback on an
// ephemeral port, no resource limits (many hosts share the process), the
// ShortTTL profile.
func Config(t testing.TB) p2p.Config {
	return p2p.Config{
		Identity:           NewIdentity(t),
		ListenAddrs:        []string{"/ip4/127.0.0.1/tcp/0"},
		UnlimitedResources: true,
		TTL:                ShortTTL(),
		UserAgent:          "agentnode/p2ptest",
	}
}

// StartHost starts a host from cfg and closes it when the test ends.
func StartHost(t testing.TB, cfg p2p.Config) *p2p.Host {
	t.Helper()
	h, err := p2p.New(cfg)
	if err != nil {
		t.Fatalf("new host: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatalf("start host: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// Network is N started hosts that know each other.
type Network struct {
	Hosts []*p2p.Host
}

// StartNetwork starts n hosts from Config(t), each changed by mod if not
// nil; hosts 1..n-1 bootstrap from hosts 0 and 1. It returns once every
// routing table holds min(n-1, 15) peers, and closes the hosts when the
// test ends.
func StartNetwork(t testing.TB, n int, mod func(i int, cfg *p2p.Config)) *Network {
	t.Helper()
	nw := &Network{Hosts: make([]*p2p.Host, n)}
	var boot []string
	for i := range n {
		cfg := Config(t)
		cfg.Bootstrap = boot
		if mod != nil {
			mod(i, &cfg)
		}
		nw.Hosts[i] = StartHost(t, cfg)
		if i < 2 {
			boot = append(boot, nw.Hosts[i].P2PAddrs()...)
		}
	}
	if err := nw.WaitReady(context.Background(), min(n-1, 15), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return nw
}

// WaitReady waits, in parallel, until every host's routing table holds
// minPeers peers.
func (nw *Network) WaitReady(ctx context.Context, minPeers int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	errs := make([]error, len(nw.Hosts))
	var wg sync.WaitGroup
	for i, h := range nw.Hosts {
		wg.Go(func() {
			if err := h.WaitReady(ctx, minPeers); err != nil {
				errs[i] = fmt.Errorf("host %d: %w", i, err)
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

// Misbehave checks what every agentnet stream protocol promises about bad
// peers: streams from bad to target speaking proto that send garbage, a
// frame announcing more than maxRequest bytes, a frame cut short, or
// nothing at all are each reset within the given time, and meanwhile
// good (a well-formed call from another host) succeeds.
func Misbehave(t *testing.T, bad host.Host, target peer.ID, proto protocol.ID, maxRequest int, within time.Duration, good func() error) {
	t.Helper()
	var over []byte
	over = binary.AppendUvarint(over, uint64(maxRequest)+1)
	cases := map[string][]byte{
		"garbage prefix": {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"garbage frame":  append([]byte{9}, "\x00{garbage"...),
		"oversized":      over,
		"cut short":      {100, '{'},
		"silence":        nil,
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), within+5*time.Second)
			defer cancel()
			s, err := bad.NewStream(ctx, target, proto)
			if err != nil {
				t.Fatalf("open stream: %v", err)
			}
			defer func() { _ = s.Reset() }()
			start := time.Now()
			if len(send) > 0 {
				if _, err := s.Write(send); err != nil {
					t.Fatalf("write: %v", err)
				}
			}
			if err := good(); err != nil {
				t.Fatalf("well-formed call while a peer misbehaves: %v", err)
			}
			_ = s.SetReadDeadline(time.Now().Add(within + 5*time.Second))
			if _, err := io.ReadAll(s); !errors.Is(err, network.ErrReset) {
				t.Fatalf("got %v, want a stream reset", err)
			}
			if took := time.Since(start); took > within+2*time.Second {
				t.Fatalf("reset after %s, deadline %s", took.Round(time.Millisecond), within)
			}
		})
	}
}

// Connect connects a to b.
func Connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatalf("connect %s to %s: %v", a.ID(), b.ID(), err)
	}
}

// Trio starts a server and two clients connected to it: one to misbehave,
// one to check the server keeps serving.
func Trio(t testing.TB) (server, client, other host.Host) {
	t.Helper()
	server = StartHost(t, Config(t)).Libp2p()
	client = StartHost(t, Config(t)).Libp2p()
	other = StartHost(t, Config(t)).Libp2p()
	Connect(t, client, server)
	Connect(t, other, server)
	return server, client, other
}
