package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/agents"
	"github.com/agentnet/agentnode/enclave/wasm/agentnet/agentnettest"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/x402test"
)

// writeAgent puts an agent (manifest and module) into appPath.
func writeAgent(t testing.TB, appPath string, m agentstore.Manifest, module []byte) {
	t.Helper()
	if err := agentstore.WriteAgent(appPath, m, module); err != nil {
		t.Fatal(err)
	}
}

// writeFile writes data to a new file in dir and returns its path.
func writeFile(t testing.TB, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The payer policies of the test: node 0 pays only for its research agent, up to 20000
// a call; node 2 pays nothing over 5000, below arxiv's price.
const (
	allowResearch = `def decide(p):
    o = p["origin"]
    if o["kind"] != "agent" or o["agent"] != "research":
        return {"allow": False, "reason": "only the research agent may pay"}
    if p["requirements"]["amount"] > 20000:
        return {"allow": False, "reason": "over 20000"}
    return True
`
	capBelowPrice = `CAP = 5000

def decide(p):
    amount = p["requirements"]["amount"]
    if amount > CAP:
        return {"allow": False, "reason": "price %d over the cap %d" % (amount, CAP)}
    return True
`
)

// TestAgentToAgent is issue 7's "Must show" in a 3-node network on the simulated TEE and
// the embedded chain: agent A (research, a WASM module) on node 0 finds agent B (arxiv) on
// node 1 by description, pays it, and returns B's output combined with its own; node 0's
// Starlark payer policy allows it and node 1's pay_to receives exactly B's price. The same
// agent on node 2, whose policy caps payments below B's price, fails inside the guest with
// the denied code, and no funds move. Then: the depth limit (an agent calling itself
// through the network), a budget below the price, an unknown agent, a callee that times
// out, a malformed depth header; and the nodes stay healthy.
func TestAgentToAgent(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	dir := t.TempDir()
	keyFile := env.PayerKeyFile(t)
	allow := writeFile(t, dir, "allow.star", allowResearch)
	capped := writeFile(t, dir, "cap.star", capBelowPrice)
	research, _ := agents.Get("research")
	arxiv, _ := agents.Get("arxiv")
	arxivManifest, err := agentstore.ParseManifest(arxiv.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	const price = 10000
	if arxivManifest.Price != price {
		t.Fatalf("arxiv's price is %d, the test assumes %d", arxivManifest.Price, price)
	}
	researchAgent := func(name string, budget uint64) agentstore.Manifest {
		return agentstore.Manifest{Name: name, Description: "research assistant that calls a literature-search agent",
			Tags: []string{"research"}, Budget: budget}
	}
	relay := agentstore.Manifest{Name: "relay", Description: "relays its input to the agent it names", Tags: []string{"relay"}}
	spin := agentstore.Manifest{Name: "spin", Description: "spins until stopped", Tags: []string{"spin"}}
	spin.Limits.Timeout.Duration = 300 * time.Millisecond

	nw := nettest.Start(t, 3, nettest.Options{Config: func(i int, c *node.Config) {
		switch i {
		case 0: // A's node
			writeAgent(t, c.AppPath, researchAgent("research", 20000), research.Module)
			writeAgent(t, c.AppPath, researchAgent("research-poor", 5000), research.Module)
			writeAgent(t, c.AppPath, relay, agentnettest.Relay)
			c.PayerKeyFile, c.PayerPolicy = keyFile, allow
		case 1: // B's node: sells arxiv
			writeAgent(t, c.AppPath, *arxivManifest, arxiv.Module)
			writeAgent(t, c.AppPath, spin, wasmtest.InfiniteLoop)
			c.RPC, c.GasKey, c.Asset, c.PayTo = env.Chain.Client().Client(), env.GasKey, env.Token.Hex(), env.PayTo.Hex()
		case 2: // A's twin under a cap below B's price
			writeAgent(t, c.AppPath, researchAgent("research", 20000), research.Module)
			writeAgent(t, c.AppPath, relay, agentnettest.Relay)
			c.PayerKeyFile, c.PayerPolicy = keyFile, capped
		}
	}})
	peerA, peerB, peerC := nw.Nodes[0].PeerID(), nw.Nodes[1].PeerID(), nw.Nodes[2].PeerID()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	userA, userC := nettest.Client(t, nw.Nodes[0]), nettest.Client(t, nw.Nodes[2])
	for _, c := range []*client.Client{userA, userC} {
		waitFound(t, ctx, c, "arxiv papers", "arxiv")
	}

	payTo0, payer0 := env.Balance(t, env.PayTo), env.Balance(t, env.Payer)
	call := func(c *client.Client, peer, agent string, req api.CallRequest) *client.Receipt {
		t.Helper()
		rc, err := c.CallAgent(ctx, peer, agent, req)
		if err != nil {
			t.Fatalf("call %s: %v", agent, err)
		}
		return rc
	}
	balances := func(what string, paid int64) {
		t.Helper()
		if d := new(big.Int).Sub(env.Balance(t, env.PayTo), payTo0); d.Int64() != paid {
			t.Fatalf("%s: B's pay_to gained %s, want %d", what, d, paid)
		}
		if d := new(big.Int).Sub(payer0, env.Balance(t, env.Payer)); d.Int64() != paid {
			t.Fatalf("%s: the payer lost %s, want %d", what, d, paid)
		}
	}

	t.Run("pays B and combines", func(t *testing.T) {
		rc := call(userA, peerA, "research", api.CallRequest{Args: []string{"attention"}})
		out := rc.Output
		header := fmt.Sprintf("research: %q answered by arxiv on %s: paid %d, exit 0, verified, commitment ", "attention", peerB, price)
		if rc.ExitCode != 0 || !strings.HasPrefix(out, header) || !strings.Contains(out, "Attention Is All You Need") ||
			!strings.Contains(out, "\nsummary: ") || !strings.Contains(out, "top result: 1. Attention Is All You Need (2017)") {
			t.Fatalf("exit %d, output:\n%s", rc.ExitCode, out)
		}
		// The last line is the notary digest of everything above it.
		i := strings.LastIndex(out, "notary digest: ")
		d := notaryDigest(out[:i])
		if !strings.HasPrefix(out[i:], "notary digest: "+hex.EncodeToString(d[:])) {
			t.Fatalf("digest line %q does not match the text", out[i:])
		}
		balances("paid call", price)
	})

	t.Run("payer policy cap below the price", func(t *testing.T) {
		rc := call(userC, peerC, "research", api.CallRequest{Args: []string{"attention"}})
		if rc.ExitCode != 13 || !strings.HasPrefix(rc.Output, "research: call failed: agentnet: denied (-3): ") ||
			!strings.Contains(rc.Output, "payer policy cap.star refused 10000: price 10000 over the cap 5000") {
			t.Fatalf("exit %d: %s", rc.ExitCode, rc.Output)
		}
		balances("refused by the policy", price) // unchanged since the paid call
	})

	t.Run("budget below the price", func(t *testing.T) {
		rc := call(userA, peerA, "research-poor", api.CallRequest{Args: []string{"attention"}})
		if rc.ExitCode != 13 || !strings.Contains(rc.Output, "denied (-3)") || !strings.Contains(rc.Output, "none within this call's limit 5000") {
			t.Fatalf("exit %d: %s", rc.ExitCode, rc.Output)
		}
		balances("over budget", price)
	})

	t.Run("depth limit", func(t *testing.T) {
		self := peerA + "/relay"
		rc := call(userA, peerA, "relay", api.CallRequest{Stdin: []byte(self)})
		want := "relay > relay > relay > relay: error -4: call depth limit reached: this agent runs at depth 3 and this node allows calls 3 deep\n"
		if rc.ExitCode != 4 || rc.Output != want {
			t.Fatalf("exit %d: %q, want %q", rc.ExitCode, rc.Output, want)
		}
	})

	t.Run("depth crosses nodes", func(t *testing.T) {
		// Node 0's relay calls node 2's, which calls itself: node 2 learns each
		// callee's depth from the request, so the chain stops at the same depth.
		rc := call(userA, peerA, "relay", api.CallRequest{Stdin: []byte(peerC + "/relay")})
		want := "relay > relay > relay > relay: error -4: call depth limit reached: this agent runs at depth 3 and this node allows calls 3 deep\n"
		if rc.ExitCode != 4 || rc.Output != want {
			t.Fatalf("exit %d: %q, want %q", rc.ExitCode, rc.Output, want)
		}
	})

	t.Run("unknown agent", func(t *testing.T) {
		rc := call(userA, peerA, "relay", api.CallRequest{Stdin: []byte(peerB + "/nope")})
		if rc.ExitCode != 2 || !strings.HasPrefix(rc.Output, "relay: error -2: call "+peerB+"/nope: agent not found") {
			t.Fatalf("exit %d: %q", rc.ExitCode, rc.Output)
		}
	})

	t.Run("callee timeout", func(t *testing.T) {
		rc := call(userA, peerA, "relay", api.CallRequest{Stdin: []byte(peerB + "/spin")})
		if rc.ExitCode != 6 || !strings.HasPrefix(rc.Output, "relay: error -6: call "+peerB+"/spin: call timed out: the callee ran past its node's time limit") {
			t.Fatalf("exit %d: %q", rc.ExitCode, rc.Output)
		}
	})

	t.Run("malformed depth header", func(t *testing.T) {
		_, err := userA.Exec(ctx, client.ExecInput{Agent: "relay", Stdin: []byte(peerB + "/nope"), Header: http.Header{node.DepthHeader: {"-1"}}})
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(apiErr.Message, node.DepthHeader) {
			t.Fatalf("bad depth header: %v", err)
		}
	})

	t.Run("nodes stay healthy", func(t *testing.T) {
		for i, n := range nw.Nodes {
			resp, err := http.Get(n.BridgeURL() + "/healthz")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("node %d healthz: %v %v", i, err, resp)
			}
			resp.Body.Close()
		}
		rc := call(userA, peerA, "research", api.CallRequest{Args: []string{"diffusion"}})
		if rc.ExitCode != 0 || !strings.Contains(rc.Output, "answered by arxiv on "+peerB) {
			t.Fatalf("a second paid call: exit %d: %s", rc.ExitCode, rc.Output)
		}
		balances("second paid call", 2*price)
	})
}

// waitFound waits until c's node finds agent by query.
func waitFound(t *testing.T, ctx context.Context, c *client.Client, query, agent string) {
	t.Helper()
	if err := nettest.Eventually(30*time.Second, 200*time.Millisecond, func() error {
		res, err := c.Search(ctx, api.SearchRequest{Description: query})
		if err != nil {
			return err
		}
		for _, a := range res.Agents {
			if a.Name == agent {
				return nil
			}
		}
		return fmt.Errorf("%s not found yet", agent)
	}); err != nil {
		t.Fatal(err)
	}
}

// notaryDigest is SHA-256("agentnet/notary/v1" || LP(text)).
func notaryDigest(text string) [32]byte {
	n := len(text)
	b := append([]byte("agentnet/notary/v1"), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return sha256.Sum256(append(b, text...))
}
