package evm_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/x402test"
)

// FuzzCheck feeds arbitrary scheme payloads to the verifier: it must never
// panic, and anything it accepts must be the vector's authorization (the
// only valid signature a fuzzer can reach is the one it was given).
func FuzzCheck(f *testing.F) {
	f.Add([]byte(x402test.VectorPayload().Payload))
	f.Add([]byte(`{"signature":"0x","authorization":{}}`))
	f.Add([]byte(`{"signature":"0x00","authorization":{"from":"0x0","to":"0x0","value":"0","validAfter":"0","validBefore":"0","nonce":"0x"}}`))
	f.Add([]byte(`{}`))
	v, err := evm.NewVerifier(evm.VerifierConfig{ChainID: 84532, Now: func() time.Time { return time.Unix(x402test.VectorValidAfter+10, 0) }})
	if err != nil {
		f.Fatal(err)
	}
	req := x402test.VectorRequirements()
	f.Fuzz(func(t *testing.T, payload []byte) {
		p := x402test.VectorPayload()
		p.Payload = json.RawMessage(payload)
		c, err := v.Check(p, req)
		if err != nil {
			return
		}
		if c.Payer() != x402test.VectorFrom || c.Value.Dec() != "10000" {
			t.Fatalf("accepted a forged payment: %+v", c)
		}
	})
}

// FuzzParseAuthorization checks that parsing never panics and that what
// parses survives a round trip through the wire form.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("0x857b06519E91e3A54538791bDbb0E22373e36b66", "10000", "1740672089", "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480")
	f.Add("0x0", "-1", "", "0x")
	f.Fuzz(func(t *testing.T, addr, value, when, nonce string) {
		w := x402.Authorization{From: addr, To: addr, Value: value, ValidAfter: when, ValidBefore: when, Nonce: nonce}
		a, err := evm.ParseAuthorization(w)
		if err != nil {
			return
		}
		b, err := evm.ParseAuthorization(a.Wire())
		if err != nil || b.StructHash() != a.StructHash() {
			t.Fatalf("round trip of %+v: %v", w, err)
		}
	})
}
