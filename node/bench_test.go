package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/p2p"
	execproto "github.com/agentnet/agentnode/p2p/proto/exec"
)

// sizeRecorder measures the exec frames of a call: the bytes the
// baseline round trip must move to be a fair comparison.
type sizeRecorder struct {
	client.Transport
	req, resp int
}

func (r *sizeRecorder) Exec(ctx context.Context, h http.Header, req *api.ExecRequest) (*api.ExecResponse, http.Header, error) {
	resp, rh, err := r.Transport.Exec(ctx, h, req)
	if err != nil {
		return nil, nil, err
	}
	body, _ := json.Marshal(req)
	frame, _ := json.Marshal(execproto.Request{Body: body})
	r.req = len(frame)
	headers := map[string]string{}
	for k, v := range rh {
		headers[k] = v[0]
	}
	body, _ = json.Marshal(resp)
	frame, _ = json.Marshal(execproto.Response{Status: http.StatusOK, Headers: headers, Body: body})
	r.resp = len(frame)
	return resp, rh, nil
}

const benchEcho = "/agentnet/bench-echo/1.0.0"

// callsInFlight is how many calls the -parallel benchmarks keep going: the
// node's bound of calls in flight to one peer.
const callsInFlight = 4

// BenchmarkRemoteCall measures a warm remote call of a tiny agent, unpaid:
// node 0 runs node 1's agent through the network (card from the
// searcher's cache, session reused, request sealed, sent over the exec
// stream, executed, result sealed, opened and verified: commitment,
// signature, module). The baseline sub-benchmarks are a plain libp2p
// request/response moving the same bytes between the same two hosts, so
// the ratio of the two is measured in one run. The -parallel variants keep
// four calls in flight (the per-peer bound) and report calls/s.
func BenchmarkRemoteCall(b *testing.B) {
	tiny := nettest.Agent{Name: "tiny", Description: "says hi", Banner: "hi"}
	nw := nettest.Start(b, 2, nettest.Options{Agents: func(i int) []nettest.Agent {
		if i == 1 {
			return []nettest.Agent{tiny}
		}
		return nil
	}})
	caller, callee := nw.Nodes[0], nw.Nodes[1]
	ctx := context.Background()
	req := api.CallRequest{Args: []string{"there"}}
	call := func() error {
		rc, err := caller.CallAgent(ctx, callee.PeerID(), tiny.Name, req)
		if err == nil && rc.Output != tiny.Output("there") {
			err = errors.New("wrong output " + rc.Output)
		}
		return err
	}
	if err := nettest.Eventually(30*time.Second, 50*time.Millisecond, call); err != nil {
		b.Fatalf("first call: %v", err)
	}

	// The same exchange, recorded for its frame sizes.
	h0, h1 := caller.P2P().Libp2p(), callee.P2P().Libp2p()
	p1, _ := peer.Decode(callee.PeerID())
	rec := &sizeRecorder{Transport: client.NewP2PTransport(h0, p1)}
	c, err := client.New(client.Config{Transport: rec, PeerID: callee.PeerID(), Policy: attest.DevPolicy(), Verifiers: nodetest.Verifiers()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Exec(ctx, client.ExecInput{Agent: tiny.Name, Args: req.Args}); err != nil {
		b.Fatal(err)
	}
	reqBytes, resp := make([]byte, rec.req), make([]byte, rec.resp)
	echo := p2p.NewService(p2p.ServiceConfig{Name: "agentnet.bench", MaxPerPeer: 2 * callsInFlight}, func(_ context.Context, s network.Stream) error {
		if _, err := p2p.ReadFrame(s, len(reqBytes)); err != nil {
			return err
		}
		return p2p.WriteFrame(s, resp)
	})
	h1.SetStreamHandler(benchEcho, echo.ServeStream)
	b.Cleanup(func() { h1.RemoveStreamHandler(benchEcho); _ = echo.Close() })
	roundTrip := func() error {
		got, err := p2p.RoundTrip(ctx, h0, p1, benchEcho, reqBytes, len(resp))
		if err == nil && len(got) != len(resp) {
			err = errors.New("short response")
		}
		return err
	}

	for _, bm := range []struct {
		name string
		fn   func() error
	}{{"call", call}, {"baseline", roundTrip}} {
		b.Run(bm.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, 1024)
			cpu := cpuTime()
			for b.Loop() {
				start := time.Now()
				if err := bm.fn(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			reportCPU(b, cpu)
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(rec.req), "req-bytes")
			b.ReportMetric(float64(rec.resp), "resp-bytes")
		})
		b.Run(bm.name+"-parallel", func(b *testing.B) {
			var (
				failed atomic.Int64
				once   sync.Once
				first  error
			)
			b.SetParallelism(max(1, callsInFlight/runtime.GOMAXPROCS(0)))
			start, cpu := time.Now(), cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bm.fn(); err != nil {
						failed.Add(1)
						once.Do(func() { first = err })
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
			reportCPU(b, cpu)
			if first != nil {
				b.Fatalf("%d of %d failed, first: %v", failed.Load(), b.N, first)
			}
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since cpu, both ends of
// the exchange together (both nodes run in this process): a ratio of two
// benchmarks' CPU does not move with the load other processes put on the
// machine, which their wall-clock ratio does.
func reportCPU(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// BenchmarkSearch measures a three-term search from one node of ten, each
// advertising two agents: provider lookups of the three terms in
// parallel, cards from the searcher's cache (refreshed over the card
// stream as it expires), verification and ranking.
func BenchmarkSearch(b *testing.B) {
	nw := nettest.Start(b, 10, nettest.Options{Agents: agentsOf})
	n0 := nw.Nodes[0]
	ctx := context.Background()
	want := agentsOf(7)[1]
	query := api.SearchRequest{Description: "translates contracts dialecth", Limit: 10}
	search := func() error {
		found, err := n0.Search(ctx, query)
		if err == nil && !slices.ContainsFunc(found, func(f api.FoundAgent) bool { return f.Name == want.Name }) {
			err = errors.New("agent not found")
		}
		return err
	}
	if err := nettest.Eventually(60*time.Second, 100*time.Millisecond, search); err != nil {
		b.Fatalf("network did not converge: %v", err)
	}
	lat := make([]time.Duration, 0, 1024)
	for b.Loop() {
		start := time.Now()
		if err := search(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")
}
