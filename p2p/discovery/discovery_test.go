package discovery

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/p2p/card"
	"github.com/agentnet/agentnode/p2p/p2ptest"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/core/routing"
)

// fakeDHT serves whatever it holds, without validation: it plays the
// malicious or stale DHT server, so the searcher's own checks are tested.
type fakeDHT struct {
	mu        sync.Mutex
	providers map[string][]peer.ID
	values    map[string][]byte
}

func newFakeDHT() *fakeDHT {
	return &fakeDHT{providers: map[string][]peer.ID{}, values: map[string][]byte{}}
}

func (d *fakeDHT) FindProvidersAsync(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	d.mu.Lock()
	ps := append([]peer.ID(nil), d.providers[c.KeyString()]...)
	d.mu.Unlock()
	ch := make(chan peer.AddrInfo)
	go func() {
		defer close(ch)
		for i, p := range ps {
			if i == count {
				return
			}
			select {
			case ch <- peer.AddrInfo{ID: p}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

func (d *fakeDHT) GetValue(_ context.Context, key string, _ ...routing.Option) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.values[key]
	if !ok {
		return nil, routing.ErrNotFound
	}
	return v, nil
}

// node is a fake publisher: an identity, a sim TEE, its cards.
type node struct {
	key   crypto.PrivKey
	id    peer.ID
	pub   []byte
	att   *sim.Attester
	names []string
}

func newNode(t testing.TB) *node {
	key := p2ptest.NewIdentity(t)
	id, _ := peer.IDFromPrivateKey(key)
	pub, _ := crypto.MarshalPublicKey(key.GetPublic())
	return &node{key: key, id: id, pub: pub, att: p2ptest.NewAttester(t)}
}

func (n *node) card(t testing.TB, name, desc string, tags ...string) *card.Card {
	t.Helper()
	now := time.Now()
	ev, err := n.att.Attest(context.Background(), attest.CardReportData(n.pub, card.Epoch(now)))
	if err != nil {
		t.Fatal(err)
	}
	return &card.Card{PeerID: n.id, Name: name, Description: desc, Tags: tags, Price: card.Price{Amount: "0"},
		Evidence: ev, Epoch: card.Epoch(now), Seq: uint64(now.UnixMicro()), IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// publish stores raw under the card key of (owner, name), lists name in
// owner's index and provides the card's terms for owner.
func (d *fakeDHT) publish(t testing.TB, owner *node, name string, raw []byte, terms []string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.values[card.Key(owner.id, name)] = raw
	owner.names = append(owner.names, name)
	now := time.Now()
	x, err := card.SealIndex(&card.Index{PeerID: owner.id, Names: owner.names, Seq: uint64(now.UnixMicro()),
		IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, owner.key)
	if err != nil {
		t.Fatal(err)
	}
	d.values[card.IndexKey(owner.id)] = x.Raw
	for _, term := range terms {
		k := card.TermCID(term).KeyString()
		d.providers[k] = append(d.providers[k], owner.id)
	}
}

func (d *fakeDHT) publishCard(t testing.TB, n *node, c *card.Card) {
	t.Helper()
	s, err := card.Seal(c, n.key)
	if err != nil {
		t.Fatal(err)
	}
	d.publish(t, n, c.Name, s.Raw, card.Terms(c))
}

func devVerifier() card.Verifier {
	return card.Verifier{Verifiers: p2ptest.Verifiers(), Policy: attest.DevPolicy()}
}

func TestSearchRanks(t *testing.T) {
	d := newFakeDHT()
	a, b := newNode(t), newNode(t)
	d.publishCard(t, a, a.card(t, "translate-fr", "Translates English text into French", "translation", "french"))
	d.publishCard(t, a, a.card(t, "echo", "Echoes its input back"))
	d.publishCard(t, b, b.card(t, "summarize", "Summarizes long English articles into a short text", "summary"))
	s, err := New(d, devVerifier())
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(context.Background(), "translate my English text to French", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Agent != "translate-fr" || res[0].PeerID != a.id || res[1].Agent != "summarize" {
		t.Fatalf("results %+v", res)
	}
	if res[0].Platform != attest.PlatformSim || res[0].Price.Amount != "0" || res[0].Score <= res[1].Score {
		t.Fatalf("result fields %+v", res[0])
	}
	res, err = s.Search(context.Background(), "echo", 1)
	if err != nil || len(res) != 1 || res[0].Agent != "echo" {
		t.Fatalf("echo: %+v %v", res, err)
	}
	if _, err := s.Search(context.Background(), "the of and !!", 5); !errors.Is(err, ErrBadQuery) {
		t.Fatalf("stopword query: %v", err)
	}
	if res, err := s.Search(context.Background(), "quantum chromodynamics", 5); err != nil || len(res) != 0 {
		t.Fatalf("no match: %+v %v", res, err)
	}
	got, err := s.Agent(context.Background(), b.id, "summarize")
	if err != nil || got.Name != "summarize" {
		t.Fatalf("Agent: %v", err)
	}
	if _, err := s.Agent(context.Background(), b.id, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Agent unknown: %v", err)
	}
}

// TestSearchRejectsForgedCards: a malicious DHT (or node) serves forged
// cards next to one honest card; only the honest one is returned.
func TestSearchRejectsForgedCards(t *testing.T) {
	d := newFakeDHT()
	honest, victim, forger := newNode(t), newNode(t), newNode(t)
	const desc = "Forecasts the weather of any city"
	terms := []string{"forecast", "weather", "city"}
	d.publishCard(t, honest, honest.card(t, "weather", desc))

	// Wrong signer: victim's card signed by forger, stored under victim.
	c := victim.card(t, "weather-signer", desc)
	vs, err := card.Seal(c, victim.key)
	if err != nil {
		t.Fatal(err)
	}
	d.publish(t, victim, c.Name, resign(t, vs.Raw, forger.key), terms)

	// Peer id mismatch: forger's valid card stored under victim's key.
	fc := forger.card(t, "weather-mismatch", desc)
	fs, _ := card.Seal(fc, forger.key)
	d.publish(t, victim, fc.Name, fs.Raw, terms)

	// Oversized: a valid card with bytes appended past the cap.
	oc := forger.card(t, "weather-big", desc)
	os, _ := card.Seal(oc, forger.key)
	d.publish(t, forger, oc.Name, append(os.Raw, make([]byte, card.MaxSize)...), terms)

	// Expired.
	ec := forger.card(t, "weather-old", desc)
	ec.IssuedAt, ec.ExpiresAt = ec.IssuedAt.Add(-2*time.Hour), ec.IssuedAt.Add(-time.Hour)
	ec.Epoch = card.Epoch(ec.IssuedAt)
	ec.Evidence, _ = forger.att.Attest(context.Background(), attest.CardReportData(forger.pub, ec.Epoch))
	d.publishCard(t, forger, ec)

	// Evidence bound to another key.
	bc := forger.card(t, "weather-evidence", desc)
	bc.Evidence, _ = forger.att.Attest(context.Background(), attest.CardReportData(victim.pub, bc.Epoch))
	d.publishCard(t, forger, bc)

	// Withdrawn.
	wc := forger.card(t, "weather-gone", desc)
	wc.Withdrawn = true
	d.publishCard(t, forger, wc)

	s, err := New(d, devVerifier(), WithCacheTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(context.Background(), "weather forecast for my city", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].PeerID != honest.id || res[0].Agent != "weather" {
		for _, r := range res {
			t.Errorf("returned %s/%s", r.PeerID, r.Agent)
		}
		t.Fatalf("%d results, want only the honest card", len(res))
	}

	// The same forgeries served over the card stream are rejected too.
	s, err = New(d, devVerifier(), WithCacheTTL(0), WithFetcher(fetcherFunc(func(ctx context.Context, p peer.ID) ([]*card.Signed, error) {
		if p != forger.id {
			return nil, errors.New("not connected")
		}
		// The victim's genuine card, served by the forger as its own.
		out := []*card.Signed{vs}
		for _, c := range []*card.Card{ec, bc, wc} {
			sc, err := card.Seal(c, forger.key)
			if err != nil {
				return nil, err
			}
			out = append(out, sc)
		}
		return out, nil
	})))
	if err != nil {
		t.Fatal(err)
	}
	res, err = s.Search(context.Background(), "weather forecast", 10)
	if err != nil || len(res) != 1 || res[0].PeerID != honest.id {
		t.Fatalf("stream path: %+v %v", res, err)
	}

	// A policy that refuses the simulated TEE finds nothing at all.
	strict, _ := New(d, card.Verifier{Verifiers: p2ptest.Verifiers()}, WithCacheTTL(0))
	if res, err := strict.Search(context.Background(), "weather", 10); err != nil || len(res) != 0 {
		t.Fatalf("default policy accepted sim cards: %+v %v", res, err)
	}
}

type fetcherFunc func(ctx context.Context, p peer.ID) ([]*card.Signed, error)

func (f fetcherFunc) FetchCards(ctx context.Context, p peer.ID) ([]*card.Signed, error) {
	return f(ctx, p)
}

func TestCacheHonoursExpiry(t *testing.T) {
	d := newFakeDHT()
	n := newNode(t)
	now := time.Now()
	clock := func() time.Time { return now }
	c := n.card(t, "short", "lives briefly")
	c.ExpiresAt = c.IssuedAt.Add(time.Minute)
	d.publishCard(t, n, c)
	v := devVerifier()
	v.Now = clock
	s, err := New(d, v, WithCacheTTL(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := s.Search(context.Background(), "briefly", 1); len(res) != 1 {
		t.Fatal("not found")
	}
	now = now.Add(2 * time.Minute)
	if res, _ := s.Search(context.Background(), "briefly", 1); len(res) != 0 {
		t.Fatal("expired card served from cache")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(nil, devVerifier()); !errors.Is(err, ErrConfig) {
		t.Fatal(err)
	}
	if _, err := New(newFakeDHT(), card.Verifier{}); !errors.Is(err, ErrConfig) {
		t.Fatal(err)
	}
	if _, err := New(newFakeDHT(), devVerifier(), WithMaxPeers(0)); !errors.Is(err, ErrConfig) {
		t.Fatal(err)
	}
}

// rawPayload re-signs an envelope's payload as is.
type rawPayload []byte

func (rawPayload) Domain() string                    { return card.Domain }
func (rawPayload) Codec() []byte                     { return card.Codec }
func (p rawPayload) MarshalRecord() ([]byte, error)  { return p, nil }
func (p *rawPayload) UnmarshalRecord(b []byte) error { *p = b; return nil }

// resign returns the card in raw signed by key instead of its owner.
func resign(t testing.TB, raw []byte, key crypto.PrivKey) []byte {
	t.Helper()
	env, err := record.UnmarshalEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	p := rawPayload(env.RawPayload)
	forged, err := record.Seal(&p, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := forged.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestForgetDuringFetchIsNotCached: cards read by a fetch that began
// before Forget are returned to that caller but not cached, so the next
// lookup sees the node's new cards (a node that looked itself up just
// before deploying an agent finds the agent once its card is out).
func TestForgetDuringFetchIsNotCached(t *testing.T) {
	n := newNode(t)
	fresh, err := card.Seal(n.card(t, "fresh", "deployed while a lookup was under way"), n.key)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		served  []*card.Signed
		calls   int
		started = make(chan struct{})
		release = make(chan struct{})
	)
	s, err := New(newFakeDHT(), devVerifier(), WithCacheTTL(time.Hour), WithFetcher(fetcherFunc(func(ctx context.Context, p peer.ID) ([]*card.Signed, error) {
		mu.Lock()
		out := slices.Clone(served)
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			close(started)
			<-release
		}
		return out, nil
	})))
	if err != nil {
		t.Fatal(err)
	}
	stale := make(chan error, 1)
	go func() {
		_, err := s.Agent(context.Background(), n.id, "fresh")
		stale <- err
	}()
	<-started
	mu.Lock()
	served = []*card.Signed{fresh}
	mu.Unlock()
	s.Forget(n.id)
	close(release)
	if err := <-stale; !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup under way: %v, want not found", err)
	}
	for range 2 {
		if _, err := s.Agent(context.Background(), n.id, "fresh"); err != nil {
			t.Fatalf("after Forget: %v", err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d fetches, want 2 (the second lookup after Forget is cached)", calls)
	}
}
