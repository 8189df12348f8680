package policy

import (
	"errors"
	"math/big"
	"testing"
	"time"
)

func TestHoldRecordRoundTrip(t *testing.T) {
	h := Hold{ID: "x", Network: network, Asset: "0xabc", Amount: big.NewInt(5), Hour: 100,
		Scopes: []string{"total", "peer:p"}, Created: time.Unix(7, 0).UTC()}
	b, err := encodeHold(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeHold("x", b)
	if err != nil || got.Amount.Int64() != 5 || got.Hour != 100 || len(got.Scopes) != 2 || !got.Created.Equal(h.Created) {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{``, `{"v":2}`, `{"v":1,"network":"n","asset":"a","amount":"-1","scopes":["t"]}`,
		`{"v":1,"network":"n","asset":"a","amount":"1","scopes":[]}`} {
		if _, err := decodeHold("x", []byte(bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzDecodeHold(f *testing.F) {
	h := Hold{ID: "x", Network: network, Asset: "0xabc", Amount: big.NewInt(5), Hour: 100, Scopes: []string{"total"}}
	b, _ := encodeHold(h)
	f.Add(b)
	f.Add([]byte(`{"v":1,"network":"n","asset":"a","amount":"99999999999999999999999","scopes":["a","b"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeHold("id", data)
		if err != nil {
			return
		}
		again, err := encodeHold(h)
		if err != nil {
			t.Fatal(err)
		}
		if h2, err := decodeHold("id", again); err != nil || h2.Amount.Cmp(h.Amount) != 0 || h2.Hour != h.Hour {
			t.Fatalf("unstable: %+v %+v %v", h, h2, err)
		}
	})
}
