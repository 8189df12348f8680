package card

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
)

var t0 = time.Date(2026, 11, 26, 12, 30, 0, 0, time.UTC)

type fixture struct {
	key  crypto.PrivKey
	id   peer.ID
	pub  []byte
	att  *sim.Attester
	now  time.Time
	vers attest.Verifiers
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(key)
	pub, _ := crypto.MarshalPublicKey(key.GetPublic())
	_, simKey, _ := ed25519.GenerateKey(rand.Reader)
	var m [sim.MeasurementSize]byte
	copy(m[:], "agentnode-test")
	return &fixture{key: key, id: id, pub: pub, att: sim.NewAttester(simKey, m, sim.WithClock(func() time.Time { return t0 })),
		now: t0, vers: attest.Verifiers{attest.PlatformSim: sim.Verifier{}}}
}

// card returns a valid unsigned card issued at f.now with evidence bound
// to f's key.
func (f *fixture) card(t testing.TB, name string) *Card {
	t.Helper()
	ev, err := f.att.Attest(context.Background(), attest.CardReportData(f.pub, Epoch(f.now)))
	if err != nil {
		t.Fatal(err)
	}
	return &Card{
		PeerID: f.id, Name: name, Description: "Translates English text into French",
		Tags: []string{"translation", "french"}, Price: Price{Amount: "1000", Asset: "0xabc", Network: "eip155:84532", PayTo: "0xdef"},
		Evidence: ev, Epoch: Epoch(f.now), Seq: 7, IssuedAt: f.now, ExpiresAt: f.now.Add(time.Hour),
		Addrs: []string{"/ip4/127.0.0.1/tcp/4001"},
	}
}

func (f *fixture) seal(t testing.TB, c *Card) []byte {
	t.Helper()
	s, err := Seal(c, f.key)
	if err != nil {
		t.Fatal(err)
	}
	return s.Raw
}

func (f *fixture) validator() Validator {
	return Validator{Now: func() time.Time { return f.now }}
}

func TestSealOpenRoundTrip(t *testing.T) {
	f := newFixture(t)
	c := f.card(t, "translate-fr")
	raw := f.seal(t, c)
	s, err := Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	if s.PeerID != f.id || s.Name != c.Name || s.Description != c.Description || s.Seq != 7 ||
		!s.IssuedAt.Equal(c.IssuedAt) || !s.ExpiresAt.Equal(c.ExpiresAt) || s.Price != c.Price ||
		strings.Join(s.Tags, ",") != "translation,french" || string(s.Evidence.Quote) != string(c.Evidence.Quote) {
		t.Fatalf("round trip changed the card: %+v", s.Card)
	}
	if err := f.validator().Validate(c.Key(), raw); err != nil {
		t.Fatalf("valid card rejected: %v", err)
	}
	v := Verifier{Verifiers: f.vers, Policy: attest.DevPolicy(), Now: func() time.Time { return f.now }}
	got, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if got.Claims.Platform != attest.PlatformSim {
		t.Fatalf("claims platform %q", got.Claims.Platform)
	}
}

// TestForgedCards covers the forgeries of issue 5 at the validator and at
// the consumer's Verifier.
func TestForgedCards(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t)
	dev := Verifier{Verifiers: f.vers, Policy: attest.DevPolicy(), Now: func() time.Time { return f.now }}

	cases := []struct {
		name      string
		key       string
		raw       func() []byte
		validator error // nil: the cheap validator accepts it
		verifier  error
	}{
		{
			name: "wrong signer",
			key:  Key(f.id, "a"),
			raw: func() []byte {
				// A card claiming f's peer id, signed by another key.
				c := f.card(t, "a")
				env, err := record.Seal(&wireCard{card: c}, other.key)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := env.Marshal()
				return b
			},
			validator: ErrPeerMismatch, verifier: ErrPeerMismatch,
		},
		{
			name:      "peer id mismatch with key",
			key:       Key(other.id, "a"),
			raw:       func() []byte { return f.seal(t, f.card(t, "a")) },
			validator: ErrPeerMismatch, verifier: nil, // the card itself is f's and fine
		},
		{
			name:      "name mismatch with key",
			key:       Key(f.id, "b"),
			raw:       func() []byte { return f.seal(t, f.card(t, "a")) },
			validator: ErrNameMismatch,
		},
		{
			name: "oversized",
			key:  Key(f.id, "a"),
			raw: func() []byte {
				raw := f.seal(t, f.card(t, "a"))
				return append(raw, make([]byte, MaxSize)...)
			},
			validator: ErrTooLarge, verifier: ErrTooLarge,
		},
		{
			name: "expired",
			key:  Key(f.id, "a"),
			raw: func() []byte {
				c := f.card(t, "a")
				c.ExpiresAt = f.now.Add(-time.Second)
				c.IssuedAt = f.now.Add(-time.Minute)
				c.Epoch = Epoch(c.IssuedAt)
				return f.seal(t, c)
			},
			validator: ErrExpired, verifier: ErrExpired,
		},
		{
			name: "evidence bound to another key",
			key:  Key(f.id, "a"),
			raw: func() []byte {
				c := f.card(t, "a")
				c.Evidence, _ = f.att.Attest(context.Background(), attest.CardReportData(other.pub, Epoch(f.now)))
				return f.seal(t, c)
			},
			validator: nil, verifier: ErrEvidence, // evidence is the consumer's check
		},
		{
			name: "evidence of another epoch",
			key:  Key(f.id, "a"),
			raw: func() []byte {
				c := f.card(t, "a")
				c.Evidence, _ = f.att.Attest(context.Background(), attest.CardReportData(f.pub, Epoch(f.now)-1))
				return f.seal(t, c)
			},
			validator: nil, verifier: ErrEvidence,
		},
		{
			name: "tampered payload",
			key:  Key(f.id, "a"),
			raw: func() []byte {
				raw := f.seal(t, f.card(t, "a"))
				i := strings.Index(string(raw), "English")
				raw[i] = 'e'
				return raw
			},
			validator: ErrBadSignature, verifier: ErrBadSignature,
		},
		{
			name: "issued in the future",
			key:  Key(f.id, "a"),
			raw: func() []byte {
				c := f.card(t, "a")
				c.IssuedAt = f.now.Add(time.Hour)
				c.ExpiresAt = f.now.Add(2 * time.Hour)
				c.Epoch = Epoch(c.IssuedAt)
				return f.seal(t, c)
			},
			validator: ErrSchema, verifier: ErrSchema,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw()
			err := f.validator().Validate(tc.key, raw)
			if !errors.Is(err, tc.validator) || (tc.validator == nil) != (err == nil) {
				t.Errorf("validator: got %v, want %v", err, tc.validator)
			}
			_, err = dev.Verify(context.Background(), raw)
			if !errors.Is(err, tc.verifier) || (tc.verifier == nil) != (err == nil) {
				t.Errorf("verifier: got %v, want %v", err, tc.verifier)
			}
		})
	}
}

func TestVerifierPolicy(t *testing.T) {
	f := newFixture(t)
	raw := f.seal(t, f.card(t, "a"))
	v := Verifier{Verifiers: f.vers, Now: func() time.Time { return f.now }} // default policy
	if _, err := v.Verify(context.Background(), raw); !errors.Is(err, attest.ErrPlatformNotAllowed) || !errors.Is(err, ErrEvidence) {
		t.Fatalf("default policy accepted sim evidence: %v", err)
	}
	pinned := attest.DevPolicy()
	pinned.Sim.Measurement = []attest.HexBytes{make([]byte, sim.MeasurementSize)}
	v.Policy = pinned
	if _, err := v.Verify(context.Background(), raw); !errors.Is(err, attest.ErrMeasurementMismatch) {
		t.Fatalf("pinned policy: %v", err)
	}
}

func TestSchemaRules(t *testing.T) {
	f := newFixture(t)
	cases := map[string]func(c *Card){
		"empty name":           func(c *Card) { c.Name = "" },
		"slash in name":        func(c *Card) { c.Name = "a/b" },
		"leading dot":          func(c *Card) { c.Name = ".a" },
		"long name":            func(c *Card) { c.Name = strings.Repeat("a", MaxNameLen+1) },
		"long description":     func(c *Card) { c.Description = strings.Repeat("a", MaxDescriptionLen+1) },
		"too many tags":        func(c *Card) { c.Tags = make([]string, MaxTags+1) },
		"empty tag":            func(c *Card) { c.Tags = []string{""} },
		"control in tag":       func(c *Card) { c.Tags = []string{"a\nb"} },
		"amount not a number":  func(c *Card) { c.Price.Amount = "1.5" },
		"amount leading zero":  func(c *Card) { c.Price.Amount = "01" },
		"amount empty":         func(c *Card) { c.Price.Amount = "" },
		"priced without payee": func(c *Card) { c.Price.PayTo = "" },
		"no evidence":          func(c *Card) { c.Evidence = attest.Evidence{} },
		"unknown platform":     func(c *Card) { c.Evidence.Platform = "sgx" },
		"wrong epoch":          func(c *Card) { c.Epoch++ },
		"expires before issue": func(c *Card) { c.ExpiresAt = c.IssuedAt },
		"lifetime too long":    func(c *Card) { c.ExpiresAt = c.IssuedAt.Add(MaxLifetime + time.Second) },
		"zero seq":             func(c *Card) { c.Seq = 0 },
		"bad addr":             func(c *Card) { c.Addrs = []string{"not a multiaddr"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := f.card(t, "a")
			mutate(c)
			if _, err := Seal(c, f.key); err == nil {
				t.Fatal("Seal accepted a card that breaks the schema")
			}
			// The same card signed without the schema check is refused by
			// the validator.
			env, err := record.Seal(&wireCard{card: c}, f.key)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := env.Marshal()
			if err := f.validator().Validate(Key(f.id, "a"), raw); err == nil {
				t.Fatal("validator accepted a card that breaks the schema")
			}
		})
	}
	free := f.card(t, "free")
	free.Price = Price{Amount: "0"}
	if _, err := Seal(free, f.key); err != nil {
		t.Fatalf("free agent without payee refused: %v", err)
	}
}

func TestSelect(t *testing.T) {
	f := newFixture(t)
	mk := func(seq uint64, issued time.Time, desc string) []byte {
		c := f.card(t, "a")
		c.Seq, c.IssuedAt, c.Description = seq, issued, desc
		c.Epoch = Epoch(issued)
		c.Evidence, _ = f.att.Attest(context.Background(), attest.CardReportData(f.pub, c.Epoch))
		return f.seal(t, c)
	}
	low := mk(1, t0, "x")
	high := mk(2, t0.Add(-time.Minute), "x")
	later := mk(2, t0, "x")
	laterB := mk(2, t0, "y")
	v := f.validator()
	key := Key(f.id, "a")
	check := func(vals [][]byte, want int) {
		t.Helper()
		got, err := v.Select(key, vals)
		if err != nil || got != want {
			t.Fatalf("Select = %d, %v; want %d", got, err, want)
		}
	}
	check([][]byte{low, high}, 1)
	check([][]byte{high, low}, 0)
	check([][]byte{high, later}, 1)
	check([][]byte{[]byte("garbage"), low}, 1)
	// Same seq and time: the larger bytes win, whatever the order.
	bigger := 0
	if string(laterB) > string(later) {
		bigger = 1
	}
	check([][]byte{later, laterB}, bigger)
	check([][]byte{laterB, later}, 1-bigger)
	if _, err := v.Select(key, [][]byte{[]byte("x")}); !errors.Is(err, ErrNoSelection) {
		t.Fatalf("Select of garbage: %v", err)
	}
}

func TestIndex(t *testing.T) {
	f := newFixture(t)
	x, err := SealIndex(&Index{PeerID: f.id, Names: []string{"b", "a", "b"}, Seq: 3, IssuedAt: f.now, ExpiresAt: f.now.Add(time.Hour)}, f.key)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(x.Names, ",") != "a,b" {
		t.Fatalf("names %v", x.Names)
	}
	if err := f.validator().Validate(IndexKey(f.id), x.Raw); err != nil {
		t.Fatal(err)
	}
	if err := f.validator().Validate(IndexKey(newFixture(t).id), x.Raw); !errors.Is(err, ErrPeerMismatch) {
		t.Fatalf("index under another peer: %v", err)
	}
	// A card is not an index and vice versa.
	if err := f.validator().Validate(IndexKey(f.id), f.seal(t, f.card(t, "a"))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("card as index: %v", err)
	}
	if err := f.validator().Validate(Key(f.id, "a"), x.Raw); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("index as card: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	f := newFixture(t)
	for _, bad := range []string{"", "/", "/agentnet-card/", "/pk/" + f.id.String(), "/agentnet-card/notapeer/a",
		"/agentnet-card/" + f.id.String() + "/", "/agentnet-card/" + f.id.String() + "/a/b"} {
		if _, _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
	id, name, err := ParseKey(Key(f.id, "echo"))
	if err != nil || id != f.id || name != "echo" {
		t.Fatalf("ParseKey = %s %q %v", id, name, err)
	}
}
