package facilitator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/facilitator"
	"github.com/agentnet/agentnode/x402/x402test"
)

// fake is a Facilitator that records what it was asked.
type fake struct {
	last x402.FacilitatorRequest
	err  error
}

func (f *fake) Verify(_ context.Context, p x402.PaymentPayload, r x402.PaymentRequirements) (x402.VerifyResponse, error) {
	f.last = x402.FacilitatorRequest{PaymentPayload: p, PaymentRequirements: r}
	return x402.VerifyResponse{IsValid: true, Payer: "0xabc"}, f.err
}

func (f *fake) Settle(_ context.Context, p x402.PaymentPayload, r x402.PaymentRequirements) (x402.SettleResponse, error) {
	f.last = x402.FacilitatorRequest{PaymentPayload: p, PaymentRequirements: r}
	return x402.SettleResponse{Success: true, Transaction: "0x01", Network: r.Network, Payer: "0xabc"}, f.err
}

func (f *fake) Supported(context.Context) (x402.SupportedResponse, error) {
	return x402.SupportedResponse{Kinds: []x402.SupportedKind{{X402Version: 2, Scheme: "exact", Network: "eip155:1"}}}, f.err
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("non-JSON answer %q", b)
	}
	return resp.StatusCode, m
}

func TestHandlerStatuses(t *testing.T) {
	f := &fake{}
	srv := httptest.NewServer(facilitator.NewHandler(f, nil))
	defer srv.Close()
	p := x402test.VectorPayload()
	body, _ := x402.EncodeFacilitatorRequest(x402.FacilitatorRequest{X402Version: 2, PaymentPayload: p, PaymentRequirements: p.Accepted})

	if code, m := post(t, srv.URL+"/verify", string(body)); code != 200 || m["isValid"] != true {
		t.Fatalf("verify: %d %v", code, m)
	}
	if code, m := post(t, srv.URL+"/verify", `{`); code != 400 || m["invalidReason"] != x402.ReasonInvalidPayload || m["isValid"] != false {
		t.Fatalf("bad json: %d %v", code, m)
	}
	if code, m := post(t, srv.URL+"/settle", `{"x402Version":9}`); code != 400 || m["errorReason"] != x402.ReasonInvalidX402Version {
		t.Fatalf("bad version: %d %v", code, m)
	}
	if code, _ := post(t, srv.URL+"/settle", `{"x402Version":2,"pad":"`+strings.Repeat("x", x402.MaxBodySize)+`"}`); code != 400 {
		t.Fatalf("oversized body: %d", code)
	}
	// v1 body in, v1 network name out.
	v1, _ := x402.EncodeFacilitatorRequest(x402.FacilitatorRequest{X402Version: 1, PaymentPayload: p, PaymentRequirements: p.Accepted})
	if code, m := post(t, srv.URL+"/settle", string(v1)); code != 200 || m["network"] != "base-sepolia" || m["success"] != true {
		t.Fatalf("v1 settle: %d %v", code, m)
	}
	if f.last.PaymentRequirements.Network != x402.NetworkBaseSepolia {
		t.Fatalf("v1 requirements reached the facilitator as %+v", f.last.PaymentRequirements)
	}
	// Internal failure: 500 with the response shape.
	f.err = errors.New("rpc down")
	if code, m := post(t, srv.URL+"/settle", string(body)); code != 500 || m["errorReason"] != x402.ReasonUnexpectedSettleError {
		t.Fatalf("internal error: %d %v", code, m)
	}
	resp, _ := http.Get(srv.URL + "/verify")
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /verify: %d", resp.StatusCode)
	}
}

func TestRemoteLimits(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/verify":
			_, _ = w.Write([]byte(`{"isValid":true,"pad":"` + strings.Repeat("x", x402.MaxBodySize) + `"}`))
		case "/settle":
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"error":"upstream <b>down</b>"}`))
		case "/supported":
			if calls.Add(1) < 3 {
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			_, _ = w.Write([]byte(`{"kinds":[{"x402Version":1,"scheme":"exact","network":"base-sepolia"}]}`))
		}
	}))
	defer srv.Close()
	r, err := facilitator.NewRemote(facilitator.RemoteConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	p := x402test.VectorPayload()
	ctx := context.Background()
	if _, err := r.Verify(ctx, p, p.Accepted); !errors.Is(err, facilitator.ErrTooLarge) {
		t.Fatalf("oversized answer: %v", err)
	}
	var se *facilitator.StatusError
	if _, err := r.Settle(ctx, p, p.Accepted); !errors.As(err, &se) || se.Status != 502 || !errors.Is(err, facilitator.ErrBadResponse) {
		t.Fatalf("502 answer: %v", err)
	}
	sup, err := r.Supported(ctx)
	if err != nil || sup.Kinds[0].Network != x402.NetworkBaseSepolia || calls.Load() != 3 {
		t.Fatalf("supported after 429s: %+v, %v (%d calls)", sup, err, calls.Load())
	}
	if _, err := r.Supported(ctx); err != nil || calls.Load() != 3 {
		t.Fatalf("supported not cached: %v (%d calls)", err, calls.Load())
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	rs, _ := facilitator.NewRemote(facilitator.RemoteConfig{URL: slow.URL, Timeout: 100 * time.Millisecond})
	if _, err := rs.Verify(ctx, p, p.Accepted); err == nil {
		t.Fatal("no timeout")
	}
	if _, err := facilitator.NewRemote(facilitator.RemoteConfig{URL: "ftp://x"}); err == nil {
		t.Fatal("accepted ftp URL")
	}
}
