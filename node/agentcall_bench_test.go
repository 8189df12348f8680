package node_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/agentnet/agentnettest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/nettest"
)

// BenchmarkAgentCall measures what an agent-to-agent call costs over a direct remote
// call of the same agent, warm and unpaid, between two nodes on loopback:
//
//   - direct: node 0 calls node 1's greeter (card cached, session reused, sealed request
//     over the exec stream, result verified);
//   - local: node 0 calls its own greeter (the in-process path: session, sealing and
//     verification without a stream);
//   - agent: node 0 runs its relay agent (the WAT guest of agentnettest), which calls
//     node 1's greeter through the agentnet host functions: the remote call plus the
//     relay's own local run, the host call, and the result copied in and out.
//
// overhead-us is agent's median minus direct's; abi-us subtracts local's too, leaving
// what the host functions themselves add.
func BenchmarkAgentCall(b *testing.B) {
	greeter := nettest.Agent{Name: "greet", Description: "greets the bench", Banner: "hello"}
	nw := nettest.Start(b, 2, nettest.Options{Config: func(i int, c *node.Config) {
		switch i {
		case 0:
			writeAgent(b, c.AppPath, agentstore.Manifest{Name: "relay", Description: "relays", Tags: []string{"relay"}}, agentnettest.Relay)
			greeter.Write(b, c.AppPath)
		case 1:
			greeter.Write(b, c.AppPath)
		}
	}})
	n0, peer0, peer1 := nw.Nodes[0], nw.Nodes[0].PeerID(), nw.Nodes[1].PeerID()
	ctx := context.Background()
	direct := func() error {
		rc, err := n0.CallAgent(ctx, peer1, "greet", api.CallRequest{Stdin: []byte(peer1 + "/greet")})
		if err == nil && rc.Output != "hello\n" {
			b.Fatalf("direct output %q", rc.Output)
		}
		return err
	}
	local := func() error {
		rc, err := n0.CallAgent(ctx, peer0, "greet", api.CallRequest{Stdin: []byte(peer1 + "/greet")})
		if err == nil && rc.Output != "hello\n" {
			b.Fatalf("local output %q", rc.Output)
		}
		return err
	}
	viaAgent := func() error {
		rc, err := n0.CallAgent(ctx, peer0, "relay", api.CallRequest{Stdin: []byte(peer1 + "/greet")})
		if err == nil && (rc.Output != "relay > hello\n" || rc.ExitCode != 0) {
			b.Fatalf("relay output %q exit %d", rc.Output, rc.ExitCode)
		}
		return err
	}
	// Warm both paths: cards, sessions, compiled modules.
	if err := nettest.Eventually(30*time.Second, 100*time.Millisecond, func() error {
		if err := direct(); err != nil {
			return err
		}
		return viaAgent()
	}); err != nil {
		b.Fatal(err)
	}
	medians := map[string]float64{}
	for _, bc := range []struct {
		name string
		call func() error
	}{{"direct", direct}, {"local", local}, {"agent", viaAgent}} {
		b.Run(bc.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				if err := bc.call(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			med := float64(lat[len(lat)/2].Microseconds())
			medians[bc.name] = med
			b.ReportMetric(med, "p50-us")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-us")
			if bc.name == "agent" && medians["direct"] > 0 {
				b.ReportMetric(med-medians["direct"], "overhead-us")
				b.ReportMetric(med/medians["direct"], "x-direct")
				// What the ABI adds beyond the two calls it is made of.
				b.ReportMetric(med-medians["direct"]-medians["local"], "abi-us")
			}
		})
	}
}
