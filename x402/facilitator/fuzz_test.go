package facilitator_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/facilitator"
	"github.com/agentnet/agentnode/x402/x402test"
)

// FuzzHandler posts arbitrary bodies: the handler answers 200 or 400 with
// JSON, never panics, and reaches the facilitator only with valid input.
func FuzzHandler(f *testing.F) {
	p := x402test.VectorPayload()
	body, _ := x402.EncodeFacilitatorRequest(x402.FacilitatorRequest{X402Version: 2, PaymentPayload: p, PaymentRequirements: p.Accepted})
	f.Add("/verify", string(body))
	f.Add("/settle", string(body))
	f.Add("/settle", `{"x402Version":1}`)
	f.Add("/verify", `[`)
	h := facilitator.NewHandler(&fake{}, nil)
	f.Fuzz(func(t *testing.T, path, body string) {
		if path != "/verify" && path != "/settle" {
			path = "/verify"
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
		if rec.Code != 200 && rec.Code != 400 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		if !strings.HasPrefix(rec.Body.String(), "{") {
			t.Fatalf("non-JSON answer %q", rec.Body.String())
		}
	})
}
