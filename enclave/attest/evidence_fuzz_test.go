package attest_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/agentnet/agentnode/enclave/attest"
)

// FuzzEvidenceJSON feeds the evidence and hex decoders that every session,
// card and receipt goes through: they never panic, and what they accept
// encodes back to a value that decodes to the same thing.
func FuzzEvidenceJSON(f *testing.F) {
	f.Add([]byte(`{"platform":"sim","quote":"00ff"}`))
	f.Add([]byte(`{"platform":"tdx","quote":""}`))
	f.Add([]byte(`{"platform":"snp","quote":"0x00"}`))
	f.Add([]byte(`{"quote":"ABCD"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`"0xdeadbeef"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev attest.Evidence
		if err := json.Unmarshal(b, &ev); err == nil {
			if len(ev.Quote) > attest.MaxQuoteSize {
				t.Fatalf("accepted a %d-byte quote", len(ev.Quote))
			}
			enc, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			var again attest.Evidence
			if err := json.Unmarshal(enc, &again); err != nil || again.Platform != ev.Platform || !bytes.Equal(again.Quote, ev.Quote) {
				t.Fatalf("round trip of %s: %s, %v", b, enc, err)
			}
		}
		var h attest.HexBytes
		if err := json.Unmarshal(b, &h); err == nil {
			enc, _ := json.Marshal(h)
			var again attest.HexBytes
			if err := json.Unmarshal(enc, &again); err != nil || !bytes.Equal(again, h) {
				t.Fatalf("hex round trip of %s: %s, %v", b, enc, err)
			}
		}
	})
}
