package client

import (
	"errors"
	"net/http"
	"testing"

	execproto "github.com/agentnet/agentnode/p2p/proto/exec"
)

// FuzzExecReply feeds execReply what a hostile peer can answer on the
// exec stream (any status, headers and body the protocol lets through):
// it never panics, a 2xx either decodes or is an ErrTransport, and
// anything else is an *APIError carrying the status.
func FuzzExecReply(f *testing.F) {
	f.Add(200, "Content-Type", "application/json", []byte(`{"session_id":"00","request_id":"00","encrypted_result":"00"}`))
	f.Add(402, "PAYMENT-REQUIRED", "eyJ4NDAyVmVyc2lvbiI6Mn0=", []byte(`{"x402Version":1,"accepts":[]}`))
	f.Add(404, "X-Request-Id", "1", []byte(`{"error":{"code":"unknown_agent","message":"no"}}`))
	f.Add(500, "", "", []byte(`not json`))
	f.Add(204, "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, status int, name, value string, body []byte) {
		resp := execproto.Response{Status: status, Body: body}
		if name != "" {
			resp.Headers = map[string]string{name: value}
		}
		out, h, err := execReply("peer", resp)
		var apiErr *APIError
		switch {
		case status/100 == 2 && err == nil:
			if out == nil || h == nil {
				t.Fatal("success without a response")
			}
		case status/100 == 2:
			if !errors.Is(err, ErrTransport) {
				t.Fatalf("undecodable 2xx: %v", err)
			}
		case !errors.As(err, &apiErr) || apiErr.Status != status || apiErr.Code == "":
			t.Fatalf("status %d: %v", status, err)
		case status == http.StatusPaymentRequired && apiErr.Header == nil:
			t.Fatal("402 without its headers")
		}
	})
}
