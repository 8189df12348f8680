package node_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/p2p"
	"github.com/agentnet/agentnode/p2p/card"
	"github.com/agentnet/agentnode/p2p/p2ptest"
	attestproto "github.com/agentnet/agentnode/p2p/proto/attest"
	cardproto "github.com/agentnet/agentnode/p2p/proto/card"
	execproto "github.com/agentnet/agentnode/p2p/proto/exec"
)

// cardSource serves fixed cards over the card stream.
type cardSource map[string][]byte

func (s cardSource) Cards() [][]byte {
	var out [][]byte
	for _, c := range s {
		out = append(out, c)
	}
	return out
}

func (s cardSource) Card(name string) ([]byte, bool) { c, ok := s[name]; return c, ok }

// joinRogue starts a bare libp2p host that joins the network through
// node 0, as a peer of the DHT that runs no node.
func joinRogue(t *testing.T, nw *nettest.Network) (*p2p.Host, crypto.PrivKey) {
	t.Helper()
	cfg := p2ptest.Config(t)
	cfg.TTL = nettest.TTL()
	cfg.Bootstrap = nw.Nodes[0].P2PAddrs()
	h := p2ptest.StartHost(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.WaitReady(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return h, cfg.Identity
}

// TestForgedCardNeverReachesSearchOrCalls has a rogue peer advertise, in
// the DHT and over the card stream, a card it signed itself whose
// evidence is genuine (simulated) but bound to another identity key: the
// DHT accepts it (its validator checks signatures, not evidence), and the
// node's searcher must not. An honest rogue with a card bound to its own
// key is the control: it is found, so the test can tell the two apart. A
// node whose peer policy refuses the simulated TEE finds neither.
func TestForgedCardNeverReachesSearchOrCalls(t *testing.T) {
	nw := nettest.Start(t, 2, nettest.Options{Agents: agentsOf})
	ctx := context.Background()
	module := sha256.Sum256([]byte("module"))
	ttl := nettest.TTL()

	honest, honestKey := joinRogue(t, nw)
	pub, err := card.NewPublisher(honest.DHT(), honestKey, p2ptest.NewAttester(t), card.WithLifetime(ttl.CardLifetime, ttl.CardRepublish))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	cardproto.New(honest.Libp2p(), pub)
	if err := pub.Publish(ctx, card.Template{Name: "oracle", Description: "answers riddles about purple elephants",
		Price: card.Price{Amount: "0"}, ModuleSHA256: module}); err != nil {
		t.Fatal(err)
	}

	forger, forgerKey := joinRogue(t, nw)
	other, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _ := crypto.MarshalPublicKey(other.GetPublic())
	now := time.Now()
	ev, err := p2ptest.NewAttester(t).Attest(ctx, attest.CardReportData(otherPub, card.Epoch(now)))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := card.Seal(&card.Card{PeerID: forger.ID(), Name: "oracle-forged", Description: "answers riddles about violet elephants",
		Price: card.Price{Amount: "0"}, ModuleSHA256: module, Evidence: ev, Epoch: card.Epoch(now), Seq: 1,
		IssuedAt: now, ExpiresAt: now.Add(ttl.CardLifetime)}, forgerKey)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := card.SealIndex(&card.Index{PeerID: forger.ID(), Names: []string{forged.Name}, Seq: 1, IssuedAt: now, ExpiresAt: now.Add(ttl.CardLifetime)}, forgerKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := forger.DHT().PutValue(ctx, forged.Key(), forged.Raw); err != nil {
		t.Fatalf("the DHT refuses the forged card (its validator checks no evidence): %v", err)
	}
	if err := forger.DHT().PutValue(ctx, card.IndexKey(forger.ID()), idx.Raw); err != nil {
		t.Fatal(err)
	}
	for _, term := range card.Terms(&forged.Card) {
		if err := forger.DHT().Provide(ctx, card.TermCID(term), true); err != nil {
			t.Fatal(err)
		}
	}
	cardproto.New(forger.Libp2p(), cardSource{forged.Name: forged.Raw})

	c := nettest.Client(t, nw.Nodes[1])
	if err := nettest.Eventually(30*time.Second, 100*time.Millisecond, func() error {
		if find(search(t, c, "riddles elephants", false), honest.ID().String(), "oracle") == nil {
			return errors.New("honest card not found")
		}
		return nil
	}); err != nil {
		t.Fatalf("control: %v", err)
	}
	// The forged card is in the DHT, where the searching node reads it,
	// and fails verification for the reason planted.
	if raw, err := nw.Nodes[1].P2P().DHT().GetValue(ctx, forged.Key()); err != nil || string(raw) != string(forged.Raw) {
		t.Fatalf("forged card not in the DHT: %v", err)
	}
	if _, err := (card.Verifier{Verifiers: nodetest.Verifiers(), Policy: attest.DevPolicy()}).Verify(ctx, forged.Raw); !errors.Is(err, attest.ErrReportDataMismatch) {
		t.Fatalf("forged card verifies: %v", err)
	}
	found := search(t, c, "riddles elephants violet", false)
	if f := find(found, forger.ID().String(), "oracle-forged"); f != nil {
		t.Fatalf("forged card in search results: %+v", f)
	}
	var apiErr *client.APIError
	if _, err := c.CallAgent(ctx, forger.ID().String(), "oracle-forged", api.CallRequest{}); !errors.As(err, &apiErr) || apiErr.Code != api.CodeUnknownAgent {
		t.Fatalf("call of the forged agent: %v", err)
	}

	// A node that requires hardware evidence trusts no simulated card.
	policy := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policy, []byte("accept_sim = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	strict := nettest.StartNode(t, node.Config{Listening: "127.0.0.1:0", DataDir: t.TempDir(), TEE: "sim", TTL: ttl,
		Bootstrap: nw.Nodes[0].P2PAddrs(), PeerPolicy: policy})
	sc := nettest.Client(t, strict)
	if err := nettest.Eventually(10*time.Second, 100*time.Millisecond, func() error {
		if len(search(t, c, "riddles elephants", false)) == 0 {
			return errors.New("control search empty")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	a := agentsOf(0)[0]
	if found := search(t, sc, a.Description, false); len(found) != 0 {
		t.Fatalf("strict node found simulated agents: %+v", found)
	}
	if _, err := sc.CallAgent(ctx, nw.Nodes[0].PeerID(), a.Name, api.CallRequest{}); !errors.As(err, &apiErr) || apiErr.Code != api.CodeUnknownAgent {
		t.Fatalf("strict node calls a simulated agent: %v", err)
	}
}

// TestHostilePeersAreResetWithinTheDeadline runs p2ptest.Misbehave against
// a real node on each of its three protocols: garbage, an oversized frame,
// a frame cut short and silence are each reset within the node's
// p2p_read_timeout, while another peer's well-formed calls succeed.
func TestHostilePeersAreResetWithinTheDeadline(t *testing.T) {
	const readTimeout = time.Second
	const maxBody = 1 << 20
	nw := nettest.Start(t, 2, nettest.Options{Agents: agentsOf, Config: func(_ int, c *node.Config) {
		c.P2PReadTimeout = node.Duration{Duration: readTimeout}
		c.MaxBodyBytes = maxBody
	}})
	target, caller := nw.Nodes[0], nw.Nodes[1]
	tp, err := peer.Decode(target.PeerID())
	if err != nil {
		t.Fatal(err)
	}
	bad := p2ptest.StartHost(t, p2ptest.Config(t)).Libp2p()
	p2ptest.Connect(t, bad, target.P2P().Libp2p())
	otherHost := caller.P2P().Libp2p()
	a := agentsOf(0)[0]
	ctx := context.Background()
	call := func() error {
		rc, err := caller.CallAgent(ctx, target.PeerID(), a.Name, api.CallRequest{Args: []string{"ok"}})
		if err == nil && rc.Output != a.Output("ok") {
			err = errors.New("wrong output " + rc.Output)
		}
		return err
	}
	session := func() error {
		c, err := client.New(client.Config{Transport: client.NewP2PTransport(otherHost, tp), PeerID: target.PeerID(),
			Policy: attest.DevPolicy(), Verifiers: nodetest.Verifiers()})
		if err != nil {
			return err
		}
		_, err = c.OpenSession(ctx)
		return err
	}
	fetch := func() error {
		cards, err := cardproto.Fetch(ctx, otherHost, tp, "")
		if err == nil && len(cards) != 2 {
			err = errors.New("wrong number of cards")
		}
		return err
	}
	if err := nettest.Eventually(10*time.Second, 100*time.Millisecond, fetch); err != nil {
		t.Fatalf("cards never served: %v", err)
	}
	t.Run("card", func(t *testing.T) {
		p2ptest.Misbehave(t, bad, tp, cardproto.ID, cardproto.MaxRequestSize, readTimeout, fetch)
	})
	t.Run("attest", func(t *testing.T) {
		p2ptest.Misbehave(t, bad, tp, attestproto.ID, attestproto.MaxRequestSize, readTimeout, session)
	})
	t.Run("exec", func(t *testing.T) {
		p2ptest.Misbehave(t, bad, tp, execproto.ID, maxBody, readTimeout, call)
	})
}

// TestPeersRunOnlyDeployedAgents checks that a network peer cannot make a
// node run a module it sends (unless the node's config allows it), while
// the node's own bridge can.
func TestPeersRunOnlyDeployedAgents(t *testing.T) {
	nw := nettest.Start(t, 2, nettest.Options{Agents: agentsOf})
	target, caller := nw.Nodes[0], nw.Nodes[1]
	tp, err := peer.Decode(target.PeerID())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{Transport: client.NewP2PTransport(caller.P2P().Libp2p(), tp), PeerID: target.PeerID(),
		Policy: attest.DevPolicy(), Verifiers: nodetest.Verifiers()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var apiErr *client.APIError
	if _, err := c.Exec(ctx, client.ExecInput{Wasm: nettest.Greeter(t, "sent")}); !errors.As(err, &apiErr) || apiErr.Code != api.CodeAgentsOnly || apiErr.Status != 403 {
		t.Fatalf("module from a peer: %v", err)
	}
	a := agentsOf(0)[1]
	res, err := c.Exec(ctx, client.ExecInput{Agent: a.Name, Args: []string{"x"}, Module: sha256.Sum256(a.Module(t))})
	if err != nil || string(res.Output) != a.Output("x") {
		t.Fatalf("agent from a peer: %v", err)
	}
	// The card's module hash is enforced: a result of another module is
	// refused.
	if _, err := c.Exec(ctx, client.ExecInput{Agent: a.Name, Module: sha256.Sum256([]byte("other"))}); !errors.Is(err, client.ErrWrongModule) {
		t.Fatalf("result of an unexpected module: %v", err)
	}
	local := nettest.Client(t, target)
	if res, err := local.Exec(ctx, client.ExecInput{Wasm: nettest.Greeter(t, "local")}); err != nil || string(res.Output) != "local\n" {
		t.Fatalf("module through the local bridge: %v", err)
	}
}
