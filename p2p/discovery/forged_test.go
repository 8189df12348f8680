package discovery_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/p2p"
	"github.com/agentnet/agentnode/p2p/card"
	"github.com/agentnet/agentnode/p2p/discovery"
	"github.com/agentnet/agentnode/p2p/p2ptest"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	dhtrecord "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/core/routing"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// acceptAll is the validator of an attacker's DHT node: it stores and
// forwards anything.
type acceptAll struct{}

func (acceptAll) Validate(string, []byte) error        { return nil }
func (acceptAll) Select(string, [][]byte) (int, error) { return 0, nil }

// startAttacker joins the network with a DHT node that skips validation,
// so its puts reach honest servers unchecked.
func startAttacker(t *testing.T, boot *p2p.Host) (*dht.IpfsDHT, crypto.PrivKey) {
	t.Helper()
	key := p2ptest.NewIdentity(t)
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport), libp2p.Security(noise.ID, noise.New), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	d, err := dht.New(h, dht.Mode(dht.ModeServer), dht.ProtocolPrefix(p2p.ProtocolPrefix),
		dht.Validator(dhtrecord.NamespacedValidator{card.Namespace: acceptAll{}}), dht.BootstrapPeers(boot.AddrInfo()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(); _ = h.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Connect(ctx, boot.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	for d.RoutingTable().Size() < 3 {
		if ctx.Err() != nil {
			t.Fatal("attacker never joined")
		}
		d.RefreshRoutingTable()
		time.Sleep(50 * time.Millisecond)
	}
	return d, key
}

// rawPayload re-signs an envelope's payload as is.
type rawPayload []byte

func (rawPayload) Domain() string                    { return card.Domain }
func (rawPayload) Codec() []byte                     { return card.Codec }
func (p rawPayload) MarshalRecord() ([]byte, error)  { return p, nil }
func (p *rawPayload) UnmarshalRecord(b []byte) error { *p = b; return nil }

// TestForgedCardsRejectedByNetwork: an attacker whose own DHT node
// validates nothing puts forged cards; honest servers refuse to store
// them and honest requesters refuse to accept them, so GetValue finds
// nothing and search returns only the real card. Evidence bound to another
// key passes the (cheap) DHT validator by design and is caught by the
// searcher.
func TestForgedCardsRejectedByNetwork(t *testing.T) {
	nodes := startAgentNetwork(t, 4, p2p.TestnetTTL(), discovery.WithCacheTTL(0))
	victim := nodes[1]
	attacker, akey := startAttacker(t, nodes[0].host)
	aid, _ := peer.IDFromPrivateKey(akey)
	apub, _ := crypto.MarshalPublicKey(akey.GetPublic())
	att := p2ptest.NewAttester(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now()
	mk := func(id peer.ID, name string, boundTo []byte) *card.Card {
		ev, err := att.Attest(ctx, attest.CardReportData(boundTo, card.Epoch(now)))
		if err != nil {
			t.Fatal(err)
		}
		return &card.Card{PeerID: id, Name: name, Description: descriptions[2], Price: card.Price{Amount: "0"},
			Evidence: ev, Epoch: card.Epoch(now), Seq: uint64(now.UnixMicro()) + 1<<40, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	seal := func(c *card.Card, key crypto.PrivKey) []byte {
		s, err := card.Seal(c, key)
		if err != nil {
			t.Fatal(err)
		}
		return s.Raw
	}
	// The victim's own card re-signed by the attacker, with a higher seq
	// so that it would win selection if it were accepted.
	vpub, _ := crypto.MarshalPublicKey(victim.key.GetPublic())
	genuine := seal(mk(victim.host.ID(), "agent-1-0", vpub), victim.key)
	env, _ := record.UnmarshalEnvelope(genuine)
	p := rawPayload(env.RawPayload)
	forgedEnv, _ := record.Seal(&p, akey)
	wrongSigner, _ := forgedEnv.Marshal()

	expired := mk(aid, "old", apub)
	expired.IssuedAt, expired.ExpiresAt = now.Add(-2*time.Hour), now.Add(-time.Hour)
	expired.Epoch = card.Epoch(expired.IssuedAt)
	expired.Evidence, _ = att.Attest(ctx, attest.CardReportData(apub, expired.Epoch))

	rejected := map[string][]byte{
		"wrong signer":     wrongSigner,
		"peer id mismatch": seal(mk(aid, "agent-1-0", apub), akey),
		"oversized":        append(seal(mk(aid, "big", apub), akey), make([]byte, card.MaxSize)...),
		"expired":          seal(expired, akey),
	}
	keys := map[string]string{
		"wrong signer":     card.Key(victim.host.ID(), "agent-1-0"),
		"peer id mismatch": card.Key(victim.host.ID(), "agent-1-0"),
		"oversized":        card.Key(aid, "big"),
		"expired":          card.Key(aid, "old"),
	}
	for name, val := range rejected {
		if err := attacker.PutValue(ctx, keys[name], val); err != nil {
			t.Fatalf("%s: attacker put: %v", name, err)
		}
		// Honest nodes refuse it: as local puts...
		if err := nodes[2].host.DHT().PutValue(ctx, keys[name], val); err == nil {
			t.Errorf("%s: honest node's validator accepted a local put", name)
		}
		// ...and as values from the network.
		got, err := nodes[3].host.DHT().GetValue(ctx, keys[name])
		switch {
		case name == "wrong signer" || name == "peer id mismatch":
			// The victim's genuine card is what honest nodes hold.
			if c, oerr := card.Open(got); err != nil || oerr != nil || !c.PeerID.MatchesPublicKey(victim.key.GetPublic()) {
				t.Errorf("%s: GetValue = %v %v", name, err, oerr)
			}
		case !errors.Is(err, routing.ErrNotFound):
			t.Errorf("%s: GetValue returned %d bytes, %v", name, len(got), err)
		}
	}

	// Evidence bound to another key: a well-signed card of the attacker
	// passes the DHT validator, and the searcher drops it.
	bad := mk(aid, "weather-evidence", vpub)
	bad.Description = descriptions[3]
	if err := attacker.PutValue(ctx, card.Key(aid, bad.Name), seal(bad, akey)); err != nil {
		t.Fatal(err)
	}
	x, err := card.SealIndex(&card.Index{PeerID: aid, Names: []string{bad.Name}, Seq: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, akey)
	if err != nil {
		t.Fatal(err)
	}
	if err := attacker.PutValue(ctx, card.IndexKey(aid), x.Raw); err != nil {
		t.Fatal(err)
	}
	for _, term := range card.Terms(bad) {
		if err := attacker.Provide(ctx, card.TermCID(term), true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := nodes[3].host.DHT().GetValue(ctx, card.Key(aid, bad.Name)); err != nil {
		t.Fatalf("well-signed card with foreign evidence not stored: %v", err)
	}
	res, err := nodes[3].search.Search(ctx, descriptions[3], 10)
	if err != nil {
		t.Fatal(err)
	}
	if found(res, aid, bad.Name) >= 0 || found(res, nodes[1].host.ID(), "agent-1-1") != 0 {
		t.Fatalf("search results %+v", res)
	}
	res, err = nodes[3].search.Search(ctx, descriptions[2], 10)
	if err != nil || found(res, victim.host.ID(), "agent-1-0") != 0 {
		t.Fatalf("victim's card: %+v %v", res, err)
	}
	if forged := uint64(now.UnixMicro()) + 1<<40; res[0].Card.Seq >= forged {
		t.Fatal("the forged card's seq won")
	}
}
