package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/p2p"
	"github.com/agentnet/agentnode/p2p/card"
	"github.com/agentnet/agentnode/p2p/p2ptest"
)

// search asks n's bridge for description and returns the results.
func search(t testing.TB, c *client.Client, description string, cards bool) []api.FoundAgent {
	t.Helper()
	resp, err := c.Search(context.Background(), api.SearchRequest{Description: description, Cards: cards})
	if err != nil {
		t.Fatalf("search %q: %v", description, err)
	}
	if (len(resp.Agents) == 0) != (resp.Message == "no agent found") {
		t.Fatalf("search %q: message %q with %d agents", description, resp.Message, len(resp.Agents))
	}
	return resp.Agents
}

func find(found []api.FoundAgent, peer, name string) *api.FoundAgent {
	for i := range found {
		if found[i].PeerID == peer && found[i].Name == name {
			return &found[i]
		}
	}
	return nil
}

// checkFound verifies a search result as a client would: the card is
// signed by the peer, names the agent and module, and its evidence
// verifies under the dev policy.
func checkFound(t testing.TB, f *api.FoundAgent, peer string, a nettest.Agent) {
	t.Helper()
	raw, err := hex.DecodeString(f.Card)
	if err != nil || len(raw) == 0 {
		t.Fatalf("%s/%s: no card in the result", peer, a.Name)
	}
	v, err := card.Verifier{Verifiers: nodetest.Verifiers(), Policy: attest.DevPolicy()}.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("%s/%s: card does not verify: %v", peer, a.Name, err)
	}
	sum := sha256.Sum256(a.Module(t))
	if v.PeerID.String() != peer || v.Name != a.Name || v.ModuleSHA256 != sum || f.ModuleSHA256 != hex.EncodeToString(sum[:]) ||
		f.Platform != "sim" || f.Description != a.Description || f.Price != "0" {
		t.Fatalf("%s/%s: result %+v, card %s/%s", peer, a.Name, f, v.PeerID, v.Name)
	}
}

// checkCall calls agent a of peer through c's node and checks the receipt
// on its own: output, module, peer, and the commitment and signature
// re-verified offline.
func checkCall(t testing.TB, c *client.Client, peer string, a nettest.Agent, args ...string) *client.Receipt {
	t.Helper()
	rc, err := c.CallAgent(context.Background(), peer, a.Name, api.CallRequest{Args: args})
	if err != nil {
		t.Fatalf("call %s/%s: %v", peer, a.Name, err)
	}
	sum := sha256.Sum256(a.Module(t))
	if rc.Output != a.Output(args...) || !rc.Verified || rc.PeerID != peer || rc.Agent != a.Name ||
		rc.ModuleSHA256 != hex.EncodeToString(sum[:]) || rc.Platform != "sim" || rc.ExitCode != 0 {
		t.Fatalf("call %s/%s: receipt %+v", peer, a.Name, rc)
	}
	if _, err := client.VerifyReceipt(context.Background(), rc, nodetest.Verifiers(), attest.DevPolicy()); err != nil {
		t.Fatalf("call %s/%s: receipt does not verify offline: %v", peer, a.Name, err)
	}
	return rc
}

func agentsOf(i int) []nettest.Agent {
	return []nettest.Agent{
		{Name: fmt.Sprintf("forecast-%d", i), Description: fmt.Sprintf("predicts tomorrow's weather over zone%c with barometric models", 'a'+i),
			Tags: []string{"weather"}, Banner: fmt.Sprintf("forecast from node %d", i)},
		{Name: fmt.Sprintf("translate-%d", i), Description: fmt.Sprintf("translates legal contracts into dialect%c plain language", 'a'+i),
			Tags: []string{"language"}, Banner: fmt.Sprintf("translation from node %d", i)},
	}
}

func TestTwoNodesSearchAndCall(t *testing.T) {
	nw := nettest.Start(t, 2, nettest.Options{Agents: agentsOf})
	c0 := nettest.Client(t, nw.Nodes[0])
	a := agentsOf(1)[0]
	peer := nw.Nodes[1].PeerID()
	var f *api.FoundAgent
	if err := nettest.Eventually(30*time.Second, 100*time.Millisecond, func() error {
		if f = find(search(t, c0, a.Description, true), peer, a.Name); f == nil {
			return errors.New("not found")
		}
		return nil
	}); err != nil {
		t.Fatalf("search for %q from node 0: %v", a.Description, err)
	}
	checkFound(t, f, peer, a)
	checkCall(t, c0, peer, a, "hello", "world")
	// Own agents take the same path.
	checkCall(t, c0, nw.Nodes[0].PeerID(), agentsOf(0)[1])

	peers, err := c0.Peers(context.Background())
	if err != nil || peers.PeerID != nw.Nodes[0].PeerID() || !slices.ContainsFunc(peers.Peers, func(p api.Peer) bool { return p.PeerID == peer }) ||
		len(peers.Addresses) == 0 || !strings.HasSuffix(peers.Addresses[0], "/p2p/"+peers.PeerID) {
		t.Fatalf("peers %+v %v", peers, err)
	}
}

func TestP2POffAnswersP2PDisabled(t *testing.T) {
	off := false
	n := nodetest.Start(t, func(c *node.Config) { c.P2P = &off })
	c := nodetest.Client(t, n.BridgeURL())
	var apiErr *client.APIError
	if _, err := c.Search(context.Background(), api.SearchRequest{Description: "weather"}); !errors.As(err, &apiErr) || apiErr.Code != api.CodeP2PDisabled || apiErr.Status != 503 {
		t.Fatalf("search with p2p off: %v", err)
	}
	if n.P2P() != nil || n.P2PAddrs() != nil {
		t.Fatal("p2p host with p2p off")
	}
}

// shortTTL is p2ptest's profile of seconds: cards live 3 s.
func shortTTL() p2p.TTL { return p2ptest.ShortTTL() }

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }
