package card

import (
	"bytes"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// fuzzKey is a fixed identity so that seeds stay valid across runs.
func fuzzKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	key, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(key)
	return key, id
}

// FuzzValidate feeds arbitrary values to the DHT validator, the decoder
// of cards and indexes, and Select. Nothing may panic; whatever the
// validator accepts must open and re-validate, and must belong to the key.
func FuzzValidate(f *testing.F) {
	key, id := fuzzKey(f)
	fx := newFixture(f)
	fx.key, fx.id = key, id
	fx.pub, _ = crypto.MarshalPublicKey(key.GetPublic())
	valid := fx.seal(f, fx.card(f, "a"))
	x, err := SealIndex(&Index{PeerID: id, Names: []string{"a"}, Seq: 1, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(false, valid)
	f.Add(true, x.Raw)
	f.Add(false, valid[:len(valid)/2])
	f.Add(false, []byte{})
	f.Add(true, []byte("\x0a\x24\x08\x01\x12\x20"))
	v := Validator{Now: func() time.Time { return t0 }}
	f.Fuzz(func(t *testing.T, index bool, raw []byte) {
		k := Key(id, "a")
		if index {
			k = IndexKey(id)
		}
		err := v.Validate(k, raw)
		if _, serr := v.Select(k, [][]byte{raw, valid, x.Raw}); serr != nil {
			t.Fatalf("Select with a valid value failed: %v", serr)
		}
		if err != nil {
			return
		}
		if index {
			got, err := OpenIndex(raw)
			if err != nil || got.PeerID != id {
				t.Fatalf("accepted index does not open: %v", err)
			}
			return
		}
		c, err := Open(raw)
		if err != nil || c.PeerID != id || c.Name != "a" {
			t.Fatalf("accepted card does not open as a/%s: %v", id, err)
		}
	})
}

// FuzzNormalize checks the term normalizer on arbitrary text: every term
// is within the token bounds and has a term key.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Translates English text into French!", "", "RUNNING runners ran",
		"日本語のテキスト", "a-b_c.d", "\xff\xfe", "classes boxes churches"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, term := range Normalize(s) {
			if len(term) < 2 || len(term) > maxTokenLen {
				t.Fatalf("term %q out of bounds", term)
			}
			if TermCID(term).ByteLen() == 0 {
				t.Fatal("empty term cid")
			}
		}
	})
}
