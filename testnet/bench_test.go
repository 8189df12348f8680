package testnet_test

import (
	"context"
	"testing"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/testnet"
)

// benchNet starts a five-node testnet with the small test agents and
// returns a bridge client of each node.
func benchNet(b *testing.B) (*testnet.Testnet, []*client.Client) {
	b.Helper()
	tn, err := testnet.Start(context.Background(), testnet.Config{Nodes: 5, DataDir: b.TempDir(), Agents: testAgents(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tn.Close() })
	var cs []*client.Client
	for _, n := range tn.Nodes() {
		c, err := client.New(client.Config{NodeURL: n.BridgeURL, Verifiers: attest.Verifiers{attest.PlatformSim: sim.Verifier{}}, Policy: attest.DevPolicy()})
		if err != nil {
			b.Fatal(err)
		}
		cs = append(cs, c)
	}
	return tn, cs
}

// BenchmarkSearch is a search through a node's bridge: provider lookups
// of each term in the DHT, card fetches (cached for 30 s), verification
// and ranking.
func BenchmarkSearch(b *testing.B) {
	_, cs := benchNet(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		resp, err := cs[i%len(cs)].Search(ctx, api.SearchRequest{Description: testnet.DefaultQuery})
		if err != nil || len(resp.Agents) == 0 {
			b.Fatalf("search: %v %+v", err, resp)
		}
		i++
	}
}

// BenchmarkPaidCall is a user's call through node 0's bridge of an agent
// on node 1: attested session (warm after the first), sealed request over
// libp2p, 402, payment by node 0's payer, execution, settlement on the
// embedded chain, verified receipt.
func BenchmarkPaidCall(b *testing.B) {
	tn, cs := benchNet(b)
	ctx := context.Background()
	target := tn.Nodes()[1].PeerID
	for b.Loop() {
		rc, err := cs[0].CallAgent(ctx, target, "papers", api.CallRequest{Args: []string{"attention"}})
		if err != nil || rc.Payment == nil {
			b.Fatalf("call: %v", err)
		}
	}
}
