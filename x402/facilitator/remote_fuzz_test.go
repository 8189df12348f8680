package facilitator_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/facilitator"
	"github.com/agentnet/agentnode/x402/x402test"
)

// answer is a RoundTripper that answers every request with one response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: a.status, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// FuzzRemote feeds the client of a remote facilitator whatever that
// facilitator may answer (any status, Retry-After and body): it never
// panics, and each call either decodes an answer or fails with
// ErrBadResponse or ErrTooLarge, so the node maps it to "payment
// verification unavailable" rather than to a verdict.
func FuzzRemote(f *testing.F) {
	f.Add(200, "", []byte(`{"isValid":true,"payer":"0x857b06519E91e3A54538791bDbb0E22373e36b66"}`))
	f.Add(200, "", []byte(`{"isValid":false,"invalidReason":"insufficient_funds"}`))
	f.Add(200, "", []byte(`{"success":true,"transaction":"0x01","network":"eip155:84532","payer":"0x1"}`))
	f.Add(400, "", []byte(`{"success":false,"errorReason":"invalid_exact_evm_payload_signature"}`))
	f.Add(200, "", []byte(`{"kinds":[{"x402Version":2,"scheme":"exact","network":"eip155:84532"}]}`))
	f.Add(500, "5", []byte(`{"error":"boom\u0000"}`))
	f.Add(200, "", bytes.Repeat([]byte(" "), x402.MaxBodySize+1))
	f.Add(204, "", []byte(nil))
	p := x402test.VectorPayload()
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			status = 200
		}
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		r, err := facilitator.NewRemote(facilitator.RemoteConfig{URL: "https://facilitator.example",
			Client: &http.Client{Transport: answer{status, h, body}, Timeout: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		check := func(what string, err error) {
			if err != nil && !errors.Is(err, facilitator.ErrBadResponse) && !errors.Is(err, facilitator.ErrTooLarge) {
				t.Fatalf("%s answered %d %q: %v", what, status, body, err)
			}
		}
		_, err = r.Verify(ctx, p, p.Accepted)
		check("verify", err)
		_, err = r.Settle(ctx, p, p.Accepted)
		check("settle", err)
		if status != http.StatusTooManyRequests { // 429 is retried with backoff, tested elsewhere
			_, err = r.Supported(ctx)
			check("supported", err)
		}
		if len(body) > x402.MaxBodySize {
			if _, err := r.Verify(ctx, p, p.Accepted); !errors.Is(err, facilitator.ErrTooLarge) {
				t.Fatalf("oversized answer (%s bytes): %v", strconv.Itoa(len(body)), err)
			}
		}
	})
}
