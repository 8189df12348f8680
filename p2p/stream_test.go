package p2p_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/p2p"
	"github.com/agentnet/agentnode/p2p/p2ptest"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

const echoID protocol.ID = "/agentnet/test-echo/1.0.0"

// echoService answers one frame of up to 2 KiB with the same bytes; a
// frame that starts with '!' is a protocol error.
func echoService(cfg p2p.ServiceConfig) *p2p.Service {
	return p2p.NewService(cfg, func(ctx context.Context, s network.Stream) error {
		req, err := p2p.ReadFrame(s, 2048)
		if err != nil {
			return err
		}
		if len(req) > 0 && req[0] == '!' {
			return errors.New("bad request")
		}
		return p2p.WriteFrame(s, req)
	})
}

type pair struct {
	server, client, other host.Host
	svc                   *p2p.Service
}

func newPair(t testing.TB, cfg p2p.ServiceConfig) *pair {
	t.Helper()
	srv := p2ptest.StartHost(t, p2ptest.Config(t)).Libp2p()
	svc := echoService(cfg)
	srv.SetStreamHandler(echoID, svc.ServeStream)
	t.Cleanup(func() { _ = svc.Close() })
	p := &pair{server: srv, svc: svc}
	for _, c := range []*host.Host{&p.client, &p.other} {
		*c = p2ptest.StartHost(t, p2ptest.Config(t)).Libp2p()
		if err := (*c).Connect(context.Background(), peer.AddrInfo{ID: srv.ID(), Addrs: srv.Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestServiceRoundTrip(t *testing.T) {
	p := newPair(t, p2p.ServiceConfig{Name: "agentnet.test"})
	ctx := context.Background()
	resp, err := p2p.RoundTrip(ctx, p.client, p.server.ID(), echoID, []byte("hello"), 100)
	if err != nil || string(resp) != "hello" {
		t.Fatalf("got %q, %v", resp, err)
	}
	// A response over the client's cap is refused.
	if _, err := p2p.RoundTrip(ctx, p.client, p.server.ID(), echoID, []byte("hello"), 4); !errors.Is(err, p2p.ErrFrameTooLarge) {
		t.Fatalf("oversized response: %v", err)
	}
	// A handler error resets the stream.
	if _, err := p2p.RoundTrip(ctx, p.client, p.server.ID(), echoID, []byte("!"), 100); !errors.Is(err, network.ErrReset) {
		t.Fatalf("protocol error: %v", err)
	}
	// A cancelled context ends the call.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p2p.RoundTrip(cctx, p.client, p.server.ID(), echoID, []byte("x"), 100); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
}

// TestServiceMisbehavingPeers: garbage, an oversized frame and silence
// each get a reset within the deadline, and the service keeps answering
// another peer meanwhile.
func TestServiceMisbehavingPeers(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	p := newPair(t, p2p.ServiceConfig{Name: "agentnet.test", ReadTimeout: readTimeout, Timeout: time.Second, MaxPerPeer: 2})
	cases := map[string][]byte{
		"garbage":  {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"oversize": {0x80, 0x80, 0x04}, // 64 KiB announced, cap 2 KiB
		"silence":  nil,
		"cut":      {10, 'a'},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := p.client.NewStream(context.Background(), p.server.ID(), echoID)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Reset()
			start := time.Now()
			if len(send) > 0 {
				if _, err := s.Write(send); err != nil {
					t.Fatal(err)
				}
			}
			// Meanwhile another peer is served.
			resp, err := p2p.RoundTrip(context.Background(), p.other, p.server.ID(), echoID, []byte("ok"), 10)
			if err != nil || string(resp) != "ok" {
				t.Fatalf("other peer not served: %q %v", resp, err)
			}
			_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.ReadAll(s)
			if !errors.Is(err, network.ErrReset) {
				t.Fatalf("got %v, want a reset", err)
			}
			if took := time.Since(start); took > readTimeout+time.Second {
				t.Fatalf("reset after %s", took)
			}
		})
	}
}

func TestServicePerPeerBound(t *testing.T) {
	p := newPair(t, p2p.ServiceConfig{Name: "agentnet.test", ReadTimeout: 5 * time.Second, MaxPerPeer: 2})
	ctx := context.Background()
	// Hold two streams that never send a full frame.
	for range 2 {
		s, err := p.client.NewStream(ctx, p.server.ID(), echoID)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Reset()
		_, _ = s.Write([]byte{5})
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.svc.InFlight(p.client.ID()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("streams never reached the handler")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The third concurrent stream of the same peer is refused at once...
	if _, err := p2p.RoundTrip(ctx, p.client, p.server.ID(), echoID, []byte("x"), 10); !errors.Is(err, network.ErrReset) {
		t.Fatalf("third stream: %v", err)
	}
	// ...while another peer is served.
	if _, err := p2p.RoundTrip(ctx, p.other, p.server.ID(), echoID, []byte("x"), 10); err != nil {
		t.Fatalf("other peer: %v", err)
	}
}

// BenchmarkStreamRoundTrip is the baseline of a remote call: a plain
// libp2p request/response of about 1 KiB, one stream per call, over
// loopback TCP with Noise and yamux, on an established connection.
func BenchmarkStreamRoundTrip(b *testing.B) {
	p := newPair(b, p2p.ServiceConfig{Name: "agentnet.test"})
	req := bytes.Repeat([]byte{'x'}, 1024)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		resp, err := p2p.RoundTrip(ctx, p.client, p.server.ID(), echoID, req, 2048)
		if err != nil || len(resp) != len(req) {
			b.Fatalf("round trip: %v", err)
		}
		lat = append(lat, time.Since(start))
	}
	reportPercentiles(b, lat)
}

// BenchmarkStreamRoundTripParallel measures throughput with concurrent
// callers on the same connection.
func BenchmarkStreamRoundTripParallel(b *testing.B) {
	p := newPair(b, p2p.ServiceConfig{Name: "agentnet.test", MaxPerPeer: 1024})
	req := bytes.Repeat([]byte{'x'}, 1024)
	b.SetBytes(int64(len(req)))
	b.ResetTimer()
	var mu sync.Mutex
	var firstErr error
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p2p.RoundTrip(context.Background(), p.client, p.server.ID(), echoID, req, 2048); err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
			}
		}
	})
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}
