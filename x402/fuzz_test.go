package x402_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/agentnet/agentnode/x402"
)

func addFixtures(f *testing.F) {
	for _, name := range []string{"spec-payment-required.b64", "spec-payment-signature.b64", "spec-payment-response.b64", "spec-payment-response-failure.b64"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("")
	f.Add("e30=")
}

// FuzzDecodeHeaders feeds one input to every header decoder: none may
// panic, and whatever decodes must re-encode and decode to the same value.
func FuzzDecodeHeaders(f *testing.F) {
	addFixtures(f)
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := x402.DecodePaymentPayload(s); err == nil {
			enc, err := x402.EncodePaymentPayload(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := x402.DecodePaymentPayload(enc); err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			_, _ = p.ExactEVM()
			_, _ = p.V1()
		}
		if p, err := x402.DecodePaymentRequired(s); err == nil {
			_ = p.V1()
			if _, err := x402.EncodePaymentRequired(p); err != nil {
				t.Fatal(err)
			}
		}
		_, _ = x402.DecodeSettleResponse(s)
		if p, err := x402.DecodePaymentPayloadV1(s); err == nil {
			_, _ = p.V2(nil)
		}
	})
}

// FuzzDecodeBodies covers the JSON body decoders of the facilitator API
// and the v1 402 body.
func FuzzDecodeBodies(f *testing.F) {
	f.Add([]byte(`{"x402Version":2,"paymentPayload":{"x402Version":2,"accepted":{"scheme":"exact","network":"eip155:1","amount":"1","asset":"0xa","payTo":"0xb","maxTimeoutSeconds":5},"payload":{"signature":"0x"}},"paymentRequirements":{"scheme":"exact","network":"eip155:1","amount":"1","asset":"0xa","payTo":"0xb","maxTimeoutSeconds":5}}`))
	f.Add([]byte(`{"x402Version":1,"paymentPayload":{"x402Version":1,"scheme":"exact","network":"base","payload":{}},"paymentRequirements":{"scheme":"exact","network":"base","maxAmountRequired":"1","resource":"r","payTo":"0xb","asset":"0xa"}}`))
	f.Add([]byte(`{"isValid":true,"payer":"0x1"}`))
	f.Add([]byte(`{"success":true,"transaction":"0x","network":"base"}`))
	f.Add([]byte(`{"kinds":[{"x402Version":2,"scheme":"exact","network":"eip155:1"}]}`))
	f.Add([]byte(`{"x402Version":1,"error":"e","accepts":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := x402.DecodeFacilitatorRequest(b); err == nil {
			enc, err := x402.EncodeFacilitatorRequest(r)
			if err != nil {
				if r.X402Version == 1 {
					return // a v1 body may carry a CAIP-2 id v1 has no name for
				}
				t.Fatal(err)
			}
			if _, err := x402.DecodeFacilitatorRequest(enc); err != nil {
				t.Fatalf("re-decode %s: %v", enc, err)
			}
		}
		_, _ = x402.DecodeVerifyResponse(b)
		_, _ = x402.DecodeSettleResponseBody(b)
		_, _ = x402.DecodeSupportedResponse(b)
		if p, err := x402.DecodePaymentRequiredV1(b); err == nil {
			for _, r := range p.Accepts {
				_, _, _ = r.V2()
			}
			if _, err := json.Marshal(p); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzParseNetwork checks that accepted networks are stable under parsing.
func FuzzParseNetwork(f *testing.F) {
	for _, s := range []string{"base", "eip155:8453", "eip155:0", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := x402.ParseNetwork(s)
		if err != nil {
			return
		}
		again, err := x402.ParseNetwork(string(n))
		if err != nil || again != n {
			t.Fatalf("ParseNetwork(%q) = %q, but ParseNetwork(%q) = %q, %v", s, n, n, again, err)
		}
	})
}
