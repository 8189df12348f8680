package card

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/p2p"
	agentcard "github.com/agentnet/agentnode/p2p/card"
	"github.com/agentnet/agentnode/p2p/p2ptest"
)

// fuzzCard returns a signed card of key's peer for the seeds.
func fuzzCard(f *testing.F, key crypto.PrivKey, name string) []byte {
	f.Helper()
	id, _ := peer.IDFromPrivateKey(key)
	pub, _ := crypto.MarshalPublicKey(key.GetPublic())
	now := time.Now()
	ev, err := p2ptest.NewAttester(f).Attest(context.Background(), attest.CardReportData(pub, agentcard.Epoch(now)))
	if err != nil {
		f.Fatal(err)
	}
	s, err := agentcard.Seal(&agentcard.Card{PeerID: id, Name: name, Description: "fuzz agent " + name,
		Price: agentcard.Price{Amount: "0"}, Evidence: ev, Epoch: agentcard.Epoch(now), Seq: 1,
		IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, key)
	if err != nil {
		f.Fatal(err)
	}
	return s.Raw
}

func frames(ps ...[]byte) []byte {
	var b bytes.Buffer
	for _, p := range ps {
		if err := p2p.WriteFrame(&b, p); err != nil {
			panic(err)
		}
	}
	return b.Bytes()
}

// FuzzReadCards feeds the client side of the card protocol what a hostile
// peer may answer: it never panics, and whatever it accepts is a list of
// at most MaxCards cards, each signed by the peer asked and named as
// asked. Anything else is an error (ErrBadResponse for well-framed lies).
func FuzzReadCards(f *testing.F) {
	key := p2ptest.NewIdentity(f)
	other := p2ptest.NewIdentity(f)
	self, _ := peer.IDFromPrivateKey(key)
	a, b := fuzzCard(f, key, "a"), fuzzCard(f, key, "b")
	foreign := fuzzCard(f, other, "a")
	f.Add(frames(a, b, nil), "")
	f.Add(frames(a, nil), "a")
	f.Add(frames(b, nil), "a")      // another agent than asked
	f.Add(frames(foreign, nil), "") // another peer's card
	f.Add(frames(nil), "")          // no cards
	f.Add(frames(a), "")            // no end frame
	f.Add(frames([]byte("{}"), nil), "")
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, "")
	f.Fuzz(func(t *testing.T, resp []byte, name string) {
		cards, err := readCards(bytes.NewReader(resp), self, name)
		if err != nil {
			if cards != nil {
				t.Fatal("cards returned with an error")
			}
			return
		}
		if len(cards) > MaxCards {
			t.Fatalf("%d cards accepted", len(cards))
		}
		for _, c := range cards {
			if c.PeerID != self || (name != "" && c.Name != name) {
				t.Fatalf("accepted %s/%s asking %s/%q", c.PeerID, c.Name, self, name)
			}
		}
	})
}

// rw is a request to read and a buffer the answer goes to.
type rw struct {
	*bytes.Reader
	out bytes.Buffer
}

func (s *rw) Write(p []byte) (int, error) { return s.out.Write(p) }

type fuzzSource map[string][]byte

func (s fuzzSource) Cards() [][]byte {
	var out [][]byte
	for _, c := range s {
		out = append(out, c)
	}
	return out
}

func (s fuzzSource) Card(name string) ([]byte, bool) { c, ok := s[name]; return c, ok }

// FuzzServe feeds the server side arbitrary request streams: it never
// panics, refuses what is not one small JSON request, and what it answers
// reads back as well-framed cards of the server ending in an empty frame.
func FuzzServe(f *testing.F) {
	key := p2ptest.NewIdentity(f)
	self, _ := peer.IDFromPrivateKey(key)
	src := fuzzSource{"a": fuzzCard(f, key, "a"), "b": fuzzCard(f, key, "b")}
	f.Add(frames([]byte(`{"name":""}`)))
	f.Add(frames([]byte(`{"name":"a"}`)))
	f.Add(frames([]byte(`{"name":"zzz"}`)))
	f.Add(frames([]byte(`{"name":1}`)))
	f.Add(frames(bytes.Repeat([]byte("x"), MaxRequestSize+1)))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, req []byte) {
		s := &rw{Reader: bytes.NewReader(req)}
		if err := serve(s, src, MaxRequestSize); err != nil {
			if s.out.Len() != 0 {
				t.Fatalf("refused request (%v) after answering %d bytes", err, s.out.Len())
			}
			return
		}
		cards, err := readCards(&s.out, self, "")
		if err != nil || len(cards) > len(src) {
			t.Fatalf("answer does not read back: %d cards, %v", len(cards), err)
		}
	})
}
