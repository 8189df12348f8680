package ledger

import (
	"bytes"
	"errors"
	"math/big"
	"testing"
	"time"
)

func TestEntryRoundTrip(t *testing.T) {
	e := testEntry(1)
	e.State, e.TxHash, e.Reason = StateSettled, "0xabc", "ok"
	e.Created = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	e.Updated = e.Created.Add(time.Second)
	e.Payload = []byte{0, 1, 2, 0xff} // not JSON: still byte for byte
	b, err := encodeEntry(&e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != e.Key || got.State != e.State || got.TxHash != e.TxHash || got.Amount.Cmp(e.Amount) != 0 ||
		!bytes.Equal(got.Payload, e.Payload) || !bytes.Equal(got.Requirements, e.Requirements) ||
		!got.Created.Equal(e.Created) || !got.Updated.Equal(e.Updated) {
		t.Fatalf("round trip: got %+v, want %+v", got, e)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := encodeEntry(&Entry{Key: testKey(1), Amount: big.NewInt(1), State: StateReserved})
	for name, in := range map[string][]byte{
		"empty":       nil,
		"not json":    []byte("{"),
		"version":     bytes.Replace(good, []byte(`"v":1`), []byte(`"v":2`), 1),
		"bad state":   bytes.Replace(good, []byte(`"reserved"`), []byte(`"paid"`), 1),
		"bad amount":  bytes.Replace(good, []byte(`"amount":"1"`), []byte(`"amount":"-x"`), 1),
		"neg amount":  bytes.Replace(good, []byte(`"amount":"1"`), []byte(`"amount":"-1"`), 1),
		"bad nonce":   bytes.Replace(good, []byte(`"nonce":"0x`), []byte(`"nonce":"0y`), 1),
		"bad address": bytes.Replace(good, []byte(`"payer":"0x`), []byte(`"payer":"1x`), 1),
		"oversized":   append(append([]byte{}, good...), make([]byte, MaxRecordLen)...),
	} {
		if _, err := decodeEntry(in); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
}

func TestParseNonce(t *testing.T) {
	n, err := ParseNonce("0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480")
	if err != nil || n[0] != 0xf3 || n[31] != 0x80 {
		t.Fatalf("ParseNonce = %x, %v", n, err)
	}
	for _, bad := range []string{"", "0x", "f3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480",
		"0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f134", "0x" + string(make([]byte, 64))} {
		if _, err := ParseNonce(bad); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("ParseNonce(%q): got %v", bad, err)
		}
	}
}

// FuzzDecodeEntry: decoding arbitrary bytes never panics, and whatever it
// accepts encodes and decodes to the same entry.
func FuzzDecodeEntry(f *testing.F) {
	e := testEntry(1)
	e.State = StateExecuted
	good, _ := encodeEntry(&e)
	f.Add(good)
	f.Add([]byte(`{"v":1,"network":"eip155:1","asset":"0x0000000000000000000000000000000000000000","payer":"0x0000000000000000000000000000000000000000","nonce":"0x0000000000000000000000000000000000000000000000000000000000000000","amount":"0","state":"settled"}`))
	f.Add([]byte(`{"v":1,"state":"failed","amount":"99999999999999999999999999999999999999999"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeEntry(b)
		if err != nil {
			return
		}
		again, err := encodeEntry(&d)
		if err != nil {
			t.Fatalf("encode decoded entry: %v", err)
		}
		d2, err := decodeEntry(again)
		if err != nil {
			t.Fatalf("decode re-encoded entry: %v", err)
		}
		if d2.Key != d.Key || d2.State != d.State || d2.Amount.Cmp(d.Amount) != 0 || !bytes.Equal(d2.Payload, d.Payload) {
			t.Fatalf("unstable round trip: %+v vs %+v", d, d2)
		}
	})
}

func FuzzParseNonce(f *testing.F) {
	f.Add("0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480")
	f.Add("0X00")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNonce(s)
		if err != nil {
			return
		}
		if len(s) != 66 || n == ([32]byte{}) && s[2:] != "0000000000000000000000000000000000000000000000000000000000000000" {
			t.Fatalf("ParseNonce(%q) = %x", s, n)
		}
	})
}
