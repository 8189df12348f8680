package x402_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/x402test"
)

// FuzzReadPayment feeds the request side of x402 any PAYMENT-SIGNATURE
// (v2) and X-PAYMENT (v1) header values, as a paid route reads them: it
// never panics; with neither header it is ErrNoPayment; the v2 header wins
// when both are set; and a v1 payment is only accepted for terms the
// server offered.
func FuzzReadPayment(f *testing.F) {
	v2, _ := x402.EncodePaymentPayload(x402test.VectorPayload())
	v1p, _ := x402test.VectorPayload().V1()
	v1, _ := x402.EncodePaymentPayloadV1(v1p)
	f.Add(v2, "")
	f.Add("", v1)
	f.Add(v2, v1)
	f.Add("", "")
	f.Add("e30=", "e30=")
	f.Add("", "eyJ4NDAyVmVyc2lvbiI6MSwic2NoZW1lIjoiZXhhY3QiLCJuZXR3b3JrIjoic29sYW5hIn0=")
	accepts := []x402.PaymentRequirements{x402test.VectorRequirements()}
	f.Fuzz(func(t *testing.T, sig, v1 string) {
		h := http.Header{}
		if sig != "" {
			h.Set(x402.HeaderPaymentSignature, sig)
		}
		if v1 != "" {
			h.Set(x402.HeaderPaymentV1, v1)
		}
		p, version, err := x402.ReadPayment(h, accepts)
		switch {
		case h.Get(x402.HeaderPaymentSignature) == "" && h.Get(x402.HeaderPaymentV1) == "":
			if !errors.Is(err, x402.ErrNoPayment) {
				t.Fatalf("no headers: %v", err)
			}
		case err != nil:
			if errors.Is(err, x402.ErrNoPayment) {
				t.Fatalf("a payment header read as none: %v", err)
			}
		case h.Get(x402.HeaderPaymentSignature) != "":
			if version != x402.Version {
				t.Fatalf("v2 header read as version %d", version)
			}
		default:
			if version != x402.VersionV1 {
				t.Fatalf("v1 header read as version %d", version)
			}
			if p.Accepted.Scheme != accepts[0].Scheme || p.Accepted.Network != accepts[0].Network {
				t.Fatalf("v1 payment for terms not offered: %+v", p.Accepted)
			}
		}
	})
}
