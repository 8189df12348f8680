package x402_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/x402"
)

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The spec's own header examples (specs/transports-v2/http.md) decode to
// the values the spec prints, and re-encode to the same bytes.
func TestSpecPaymentRequired(t *testing.T) {
	s := readFixture(t, "spec-payment-required.b64")
	p, err := x402.DecodePaymentRequired(s)
	if err != nil {
		t.Fatal(err)
	}
	want := x402.PaymentRequired{
		X402Version: 2,
		Error:       "PAYMENT-SIGNATURE header is required",
		Resource: x402.ResourceInfo{
			URL:         "https://api.example.com/premium-data",
			Description: "Access to premium market data",
			MimeType:    "application/json",
		},
		Accepts: []x402.PaymentRequirements{{
			Scheme: "exact", Network: "eip155:84532", Amount: "10000",
			Asset:             "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
			PayTo:             "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
			MaxTimeoutSeconds: 60,
			Extra:             map[string]any{"name": "USDC", "version": "2"},
		}},
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", p, want)
	}
	again, err := x402.EncodePaymentRequired(p)
	if err != nil {
		t.Fatal(err)
	}
	if again != s {
		t.Fatalf("re-encoding differs:\n%s\n%s", again, s)
	}
}

func TestSpecPaymentSignature(t *testing.T) {
	s := readFixture(t, "spec-payment-signature.b64")
	p, err := x402.DecodePaymentPayload(s)
	if err != nil {
		t.Fatal(err)
	}
	if p.Resource == nil || p.Resource.URL != "https://api.example.com/premium-data" {
		t.Fatalf("resource = %+v", p.Resource)
	}
	if p.Accepted.Network != x402.NetworkBaseSepolia || p.Accepted.ExtraString("name") != "USDC" {
		t.Fatalf("accepted = %+v", p.Accepted)
	}
	e, err := p.ExactEVM()
	if err != nil {
		t.Fatal(err)
	}
	want := x402.Authorization{
		From: "0x857b06519E91e3A54538791bDbb0E22373e36b66", To: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
		Value: "10000", ValidAfter: "1740672089", ValidBefore: "1740672154",
		Nonce: "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480",
	}
	if e.Authorization != want {
		t.Fatalf("authorization = %+v", e.Authorization)
	}
	if !strings.HasPrefix(e.Signature, "0x2d6a7588") || len(e.Signature) != 132 {
		t.Fatalf("signature = %s", e.Signature)
	}
	again, err := x402.EncodePaymentPayload(p)
	if err != nil {
		t.Fatal(err)
	}
	if again != s {
		t.Fatalf("re-encoding differs")
	}
}

func TestSpecPaymentResponse(t *testing.T) {
	ok, err := x402.DecodeSettleResponse(readFixture(t, "spec-payment-response.b64"))
	if err != nil {
		t.Fatal(err)
	}
	if !ok.Success || ok.Transaction != "0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef" ||
		ok.Network != x402.NetworkBaseSepolia || ok.Payer != "0x857b06519E91e3A54538791bDbb0E22373e36b66" {
		t.Fatalf("success response = %+v", ok)
	}
	fail, err := x402.DecodeSettleResponse(readFixture(t, "spec-payment-response-failure.b64"))
	if err != nil {
		t.Fatal(err)
	}
	if fail.Success || fail.ErrorReason != x402.ReasonInsufficientFunds || fail.Transaction != "" || fail.Pending() {
		t.Fatalf("failure response = %+v", fail)
	}
	if !x402.IsInsufficientBalance(fail.ErrorReason) {
		t.Fatal("insufficient_funds not recognised")
	}
}

// Field names on the wire are what the SDKs read; a rename breaks interop.
func TestJSONFieldNames(t *testing.T) {
	b, err := json.Marshal(x402.SettleResponse{Success: false, ErrorReason: "x", Transaction: "", Network: "eip155:1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"success":false,"errorReason":"x","transaction":"","network":"eip155:1"}` {
		t.Fatalf("settle response JSON = %s", got)
	}
	b, _ = json.Marshal(x402.VerifyResponse{IsValid: false, InvalidReason: "r", Payer: "0xabc"})
	if got := string(b); got != `{"isValid":false,"invalidReason":"r","payer":"0xabc"}` {
		t.Fatalf("verify response JSON = %s", got)
	}
	b, _ = json.Marshal(x402.SupportedResponse{Kinds: []x402.SupportedKind{{X402Version: 2, Scheme: "exact", Network: "eip155:1"}}, Signers: map[string][]string{"eip155:*": {"0x1"}}})
	if got := string(b); got != `{"kinds":[{"x402Version":2,"scheme":"exact","network":"eip155:1"}],"signers":{"eip155:*":["0x1"]}}` {
		t.Fatalf("supported JSON = %s", got)
	}
}

// Unknown extra keys and their number text survive a decode/encode round
// trip, so a client's echo stays deep-equal to the server's entry.
func TestExtraPreserved(t *testing.T) {
	raw := `{"x402Version":2,"accepted":{"scheme":"exact","network":"eip155:1","amount":"1","asset":"0xa","payTo":"0xb","maxTimeoutSeconds":5,"extra":{"name":"T","version":"2","big":123456789012345678901234567890,"nested":{"k":[1,2.5]}}},"payload":{}}`
	p, err := x402.DecodePaymentPayload(base64.StdEncoding.EncodeToString([]byte(raw)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(raw), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || !strings.Contains(string(b), `"big":123456789012345678901234567890`) {
		t.Fatalf("round trip changed the payload:\n%s\n%s", b, raw)
	}
}

func TestDecodeErrors(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	valid := `{"scheme":"exact","network":"eip155:1","amount":"1","asset":"0xa","payTo":"0xb","maxTimeoutSeconds":5}`
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", x402.ErrMalformed},
		{"not base64", "!!!!", x402.ErrMalformed},
		{"not json", b64("hello"), x402.ErrMalformed},
		{"trailing data", b64(`{"x402Version":2,"accepted":` + valid + `,"payload":{}} {}`), x402.ErrMalformed},
		{"version 1 in v2 header", b64(`{"x402Version":1,"accepted":` + valid + `,"payload":{}}`), x402.ErrVersion},
		{"version 3", b64(`{"x402Version":3,"accepted":` + valid + `,"payload":{}}`), x402.ErrVersion},
		{"payload not object", b64(`{"x402Version":2,"accepted":` + valid + `,"payload":"x"}`), x402.ErrMalformed},
		{"missing payload", b64(`{"x402Version":2,"accepted":` + valid + `}`), x402.ErrMalformed},
		{"negative amount", b64(`{"x402Version":2,"accepted":` + strings.Replace(valid, `"1"`, `"-1"`, 1) + `,"payload":{}}`), x402.ErrMalformed},
		{"hex amount", b64(`{"x402Version":2,"accepted":` + strings.Replace(valid, `"1"`, `"0x10"`, 1) + `,"payload":{}}`), x402.ErrMalformed},
		{"bad network", b64(`{"x402Version":2,"accepted":` + strings.Replace(valid, `eip155:1`, `nope`, 1) + `,"payload":{}}`), x402.ErrUnknownNetwork},
		{"too large", strings.Repeat("A", x402.MaxHeaderSize+1), x402.ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := x402.DecodePaymentPayload(c.in)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestReadPayment(t *testing.T) {
	accepts := []x402.PaymentRequirements{{
		Scheme: "exact", Network: x402.NetworkBaseSepolia, Amount: "10000",
		Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
		MaxTimeoutSeconds: 60, Extra: map[string]any{"name": "USDC", "version": "2"},
	}}
	h := http.Header{}
	if _, _, err := x402.ReadPayment(h, accepts); !errors.Is(err, x402.ErrNoPayment) {
		t.Fatalf("no header: err = %v", err)
	}

	// v2: canonicalized header name, version 2.
	h.Set("payment-signature", readFixture(t, "spec-payment-signature.b64"))
	p, v, err := x402.ReadPayment(h, accepts)
	if err != nil || v != 2 {
		t.Fatalf("v2: v=%d err=%v", v, err)
	}
	if _, ok := x402.FindRequirements(accepts, p.Accepted); !ok {
		t.Fatal("spec payment does not match its own requirements")
	}

	// v1: X-PAYMENT takes accepted from the matching entry.
	sig := readFixture(t, "spec-payment-signature.b64")
	v2, _ := x402.DecodePaymentPayload(sig)
	v1, ok := v2.V1()
	if !ok || v1.Network != "base-sepolia" {
		t.Fatalf("v1 conversion = %+v %v", v1, ok)
	}
	s, err := x402.EncodePaymentPayloadV1(v1)
	if err != nil {
		t.Fatal(err)
	}
	h = http.Header{}
	h.Set("X-Payment", s)
	p, v, err = x402.ReadPayment(h, accepts)
	if err != nil || v != 1 {
		t.Fatalf("v1: v=%d err=%v", v, err)
	}
	if !reflect.DeepEqual(p.Accepted, accepts[0]) || string(p.Payload) != string(v2.Payload) {
		t.Fatalf("v1 payload converted to %+v", p)
	}
	// A v1 payment on a network the server does not accept matches nothing.
	if _, _, err := x402.ReadPayment(h, nil); !errors.Is(err, x402.ErrNoMatch) {
		t.Fatalf("v1 without match: err = %v", err)
	}
}

func TestSetHeaders(t *testing.T) {
	h := http.Header{}
	r := x402.SettleResponse{Success: true, Transaction: "0x01", Network: x402.NetworkBaseSepolia}
	if err := x402.SetPaymentResponse(h, 1, r); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(h.Get("X-PAYMENT-RESPONSE"))
	if !strings.Contains(string(raw), `"network":"base-sepolia"`) {
		t.Fatalf("v1 response = %s", raw)
	}
	got, err := x402.DecodeSettleResponse(h.Get("X-PAYMENT-RESPONSE"))
	if err != nil || got.Network != x402.NetworkBaseSepolia {
		t.Fatalf("decoded v1 response = %+v, %v", got, err)
	}
	if err := x402.SetPaymentResponse(h, 2, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := x402.DecodeSettleResponse(h.Get("PAYMENT-RESPONSE")); !reflect.DeepEqual(got, r) {
		t.Fatalf("v2 response = %+v", got)
	}
	pr, _ := x402.DecodePaymentRequired(readFixture(t, "spec-payment-required.b64"))
	h = http.Header{}
	if err := x402.SetPaymentRequired(h, pr); err != nil {
		t.Fatal(err)
	}
	if h.Get("Cache-Control") != "no-store" || h.Get("Payment-Required") == "" {
		t.Fatalf("402 headers = %v", h)
	}
}
