package x402_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/agentnet/agentnode/x402"
)

func TestV1Body(t *testing.T) {
	pr, err := x402.DecodePaymentRequired(readFixture(t, "spec-payment-required.b64"))
	if err != nil {
		t.Fatal(err)
	}
	pr.Error = ""
	pr.Accepts = append(pr.Accepts, x402.PaymentRequirements{Scheme: "exact", Network: "eip155:1337", Amount: "1", Asset: "0xa", PayTo: "0xb"})
	body, err := json.Marshal(pr.V1())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"x402Version":1,"error":"X-PAYMENT header is required","accepts":[{"scheme":"exact","network":"base-sepolia","maxAmountRequired":"10000","resource":"https://api.example.com/premium-data","description":"Access to premium market data","mimeType":"application/json","outputSchema":null,"payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","extra":{"name":"USDC","version":"2"}}]}`
	if string(body) != want {
		t.Fatalf("v1 body\n%s\nwant\n%s", body, want)
	}
	back, err := x402.DecodePaymentRequiredV1(body)
	if err != nil {
		t.Fatal(err)
	}
	req, res, err := back.Accepts[0].V2()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(req, pr.Accepts[0]) || res.URL != pr.Resource.URL {
		t.Fatalf("v1 -> v2 = %+v %+v", req, res)
	}
}

func TestFacilitatorRequestVersions(t *testing.T) {
	p, err := x402.DecodePaymentPayload(readFixture(t, "spec-payment-signature.b64"))
	if err != nil {
		t.Fatal(err)
	}
	req := x402.FacilitatorRequest{X402Version: 2, PaymentPayload: p, PaymentRequirements: p.Accepted}
	for _, version := range []int{2, 1} {
		req.X402Version = version
		body, err := x402.EncodeFacilitatorRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := x402.DecodeFacilitatorRequest(body)
		if err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		if got.X402Version != version || !reflect.DeepEqual(got.PaymentRequirements, p.Accepted) ||
			string(got.PaymentPayload.Payload) != string(p.Payload) || got.PaymentPayload.Accepted.Network != p.Accepted.Network {
			t.Fatalf("v%d round trip = %+v", version, got)
		}
	}
	for _, bad := range []string{`{"x402Version":7}`, `[]`, `{"x402Version":2,"paymentPayload":{}}`, `{"x402Version":1,"paymentPayload":{"x402Version":1,"scheme":"exact","network":"nowhere","payload":{}}}`} {
		if _, err := x402.DecodeFacilitatorRequest([]byte(bad)); err == nil {
			t.Fatalf("accepted %s", bad)
		}
	}
}

func TestFacilitatorReplies(t *testing.T) {
	if _, err := x402.DecodeVerifyResponse([]byte(`{"invalidReason":"x"}`)); !errors.Is(err, x402.ErrMalformed) {
		t.Fatalf("verify reply without isValid: %v", err)
	}
	v, err := x402.DecodeVerifyResponse([]byte(`{"isValid":false,"invalidReason":"invalid_exact_evm_nonce_already_used","payer":"0x1"}`))
	if err != nil || v.IsValid || !x402.IsNonceUsed(v.InvalidReason) {
		t.Fatalf("verify reply = %+v, %v", v, err)
	}
	if _, err := x402.DecodeSettleResponseBody([]byte(`{"success":true,"network":"eip155:1"}`)); !errors.Is(err, x402.ErrMalformed) {
		t.Fatalf("settle reply without transaction: %v", err)
	}
	s, err := x402.DecodeSettleResponseBody([]byte(`{"success":false,"errorReason":"settlement_pending","transaction":"0xab","network":"base"}`))
	if err != nil || !s.Pending() || s.Network != x402.NetworkBase {
		t.Fatalf("settle reply = %+v, %v", s, err)
	}
	sup, err := x402.DecodeSupportedResponse([]byte(`{"kinds":[{"x402Version":1,"scheme":"exact","network":"base-sepolia"},{"x402Version":2,"scheme":"exact","network":"stellar:testnet"},{"x402Version":1,"scheme":"exact","network":"peaq"}]}`))
	if err != nil || sup.Kinds[0].Network != x402.NetworkBaseSepolia || sup.Kinds[2].Network != "peaq" {
		t.Fatalf("supported = %+v, %v", sup, err)
	}
}
