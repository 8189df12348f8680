package x402

import (
	"fmt"
	"net/http"
)

// ReadPayment reads the payment a request carries: PAYMENT-SIGNATURE (v2)
// or, failing that, X-PAYMENT (v1). It returns the payload in v2 form and
// the version the client spoke, so the answer can use the matching
// response header (see SetPaymentResponse). A v1 payload takes Accepted
// from the entry of accepts with its scheme and network. It returns
// ErrNoPayment when neither header is present.
func ReadPayment(h http.Header, accepts []PaymentRequirements) (PaymentPayload, int, error) {
	if s := h.Get(HeaderPaymentSignature); s != "" {
		p, err := DecodePaymentPayload(s)
		if err != nil {
			return PaymentPayload{}, 0, err
		}
		return p, Version, nil
	}
	if s := h.Get(HeaderPaymentV1); s != "" {
		v1, err := DecodePaymentPayloadV1(s)
		if err != nil {
			return PaymentPayload{}, 0, err
		}
		p, err := v1.V2(accepts)
		if err != nil {
			return PaymentPayload{}, 0, err
		}
		return p, VersionV1, nil
	}
	return PaymentPayload{}, 0, ErrNoPayment
}

// SetPaymentRequired sets the PAYMENT-REQUIRED header of a 402 answer and
// the header that keeps it from being cached. It sets no CORS header: a
// server that serves browsers of other origins decides its CORS policy
// (and Access-Control-Expose-Headers for these headers) itself; the node's
// bridge serves none.
func SetPaymentRequired(h http.Header, p PaymentRequired) error {
	s, err := EncodePaymentRequired(p)
	if err != nil {
		return fmt.Errorf("set PAYMENT-REQUIRED: %w", err)
	}
	h.Set(HeaderPaymentRequired, s)
	h.Set("Cache-Control", "no-store")
	return nil
}

// SetPaymentResponse sets the settlement receipt header for a client that
// spoke the given version: PAYMENT-RESPONSE for v2, X-PAYMENT-RESPONSE
// (with the v1 network name) for v1.
func SetPaymentResponse(h http.Header, version int, r SettleResponse) error {
	name := HeaderPaymentResponse
	if version == VersionV1 {
		name = HeaderPaymentResponseV1
		if v1, ok := r.Network.V1Name(); ok {
			r.Network = Network(v1)
		}
	}
	s, err := EncodeSettleResponse(r)
	if err != nil {
		return fmt.Errorf("set %s: %w", name, err)
	}
	h.Set(name, s)
	h.Set("Cache-Control", "no-store")
	return nil
}
