package card_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/p2p"
	agentcard "github.com/agentnet/agentnode/p2p/card"
	"github.com/agentnet/agentnode/p2p/p2ptest"
	cardproto "github.com/agentnet/agentnode/p2p/proto/card"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// source serves fixed cards.
type source struct{ cards map[string][]byte }

func (s source) Cards() [][]byte {
	var out [][]byte
	for _, c := range s.cards {
		out = append(out, c)
	}
	return out
}
func (s source) Card(name string) ([]byte, bool) { c, ok := s.cards[name]; return c, ok }

func sealed(t *testing.T, key crypto.PrivKey, name string) []byte {
	t.Helper()
	id, _ := peer.IDFromPrivateKey(key)
	pub, _ := crypto.MarshalPublicKey(key.GetPublic())
	now := time.Now()
	ev, err := p2ptest.NewAttester(t).Attest(context.Background(), attest.CardReportData(pub, agentcard.Epoch(now)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := agentcard.Seal(&agentcard.Card{PeerID: id, Name: name, Description: "test agent " + name,
		Price: agentcard.Price{Amount: "0"}, Evidence: ev, Epoch: agentcard.Epoch(now), Seq: 1,
		IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, key)
	if err != nil {
		t.Fatal(err)
	}
	return s.Raw
}

func TestFetch(t *testing.T) {
	server, client, other := p2ptest.Trio(t)
	srvKey := server.Peerstore().PrivKey(server.ID())
	src := source{cards: map[string][]byte{"a": sealed(t, srvKey, "a"), "b": sealed(t, srvKey, "b")}}
	svc := cardproto.New(server, src, p2p.WithTimeout(500*time.Millisecond))
	t.Cleanup(func() { _ = svc.Close() })
	ctx := context.Background()

	all, err := cardproto.Fetch(ctx, client, server.ID(), "")
	if err != nil || len(all) != 2 {
		t.Fatalf("fetch all: %d cards, %v", len(all), err)
	}
	one, err := cardproto.Fetch(ctx, client, server.ID(), "b")
	if err != nil || len(one) != 1 || one[0].Name != "b" {
		t.Fatalf("fetch b: %v %v", one, err)
	}
	none, err := cardproto.Fetch(ctx, client, server.ID(), "zzz")
	if err != nil || len(none) != 0 {
		t.Fatalf("fetch unknown: %v %v", none, err)
	}
	// A peer the client has never connected to: not other, which the DHT
	// may connect to the client in the background through server.
	strangerKey, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := peer.IDFromPrivateKey(strangerKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (cardproto.Fetcher{Host: client}).FetchCards(ctx, stranger); !errors.Is(err, cardproto.ErrNotConnected) {
		t.Fatalf("fetcher dialed an unconnected peer: %v", err)
	}
	if cards, err := (cardproto.Fetcher{Host: client}).FetchCards(ctx, server.ID()); err != nil || len(cards) != 2 {
		t.Fatalf("fetcher: %v", err)
	}

	p2ptest.Misbehave(t, client, server.ID(), cardproto.ID, cardproto.MaxRequestSize, 500*time.Millisecond, func() error {
		_, err := cardproto.Fetch(ctx, other, server.ID(), "a")
		return err
	})
}

// TestFetchRejectsForeignCards: a peer serving someone else's (valid) card
// is a bad response.
func TestFetchRejectsForeignCards(t *testing.T) {
	server, client, _ := p2ptest.Trio(t)
	svc := cardproto.New(server, source{cards: map[string][]byte{"a": sealed(t, p2ptest.NewIdentity(t), "a")}})
	t.Cleanup(func() { _ = svc.Close() })
	if _, err := cardproto.Fetch(context.Background(), client, server.ID(), ""); !errors.Is(err, cardproto.ErrBadResponse) {
		t.Fatalf("foreign card accepted: %v", err)
	}
	svc2 := cardproto.New(server, source{cards: map[string][]byte{"a": []byte("not a card")}})
	t.Cleanup(func() { _ = svc2.Close() })
	if _, err := cardproto.Fetch(context.Background(), client, server.ID(), ""); !errors.Is(err, cardproto.ErrBadResponse) {
		t.Fatalf("garbage card accepted: %v", err)
	}
}
