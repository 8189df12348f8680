package exec_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentnet/agentnode/p2p"
	"github.com/agentnet/agentnode/p2p/p2ptest"
	execproto "github.com/agentnet/agentnode/p2p/proto/exec"
	"github.com/libp2p/go-libp2p/core/peer"
)

// payee answers 402 until a payment header comes, like the node's x402
// route.
func payee(calls *atomic.Int32) execproto.Handler {
	return execproto.HandlerFunc(func(ctx context.Context, remote peer.ID, req execproto.Request) execproto.Response {
		calls.Add(1)
		if req.Header(execproto.HeaderPaymentSignature) == "" {
			return execproto.Response{Status: http.StatusPaymentRequired,
				Headers: map[string]string{execproto.HeaderPaymentRequired: "eyJ4NDAyVmVyc2lvbiI6Mn0="},
				Body:    json.RawMessage(`{"error":"payment required"}`)}
		}
		if string(req.Body) == `"bad"` {
			return execproto.Response{Status: 0} // a broken handler
		}
		return execproto.Response{Status: http.StatusOK,
			Headers: map[string]string{execproto.HeaderPaymentResponse: "settled"},
			Body:    json.RawMessage(`{"output":"` + remote.String() + `"}`)}
	})
}

func TestCallPaymentFlow(t *testing.T) {
	server, client, other := p2ptest.Trio(t)
	var calls atomic.Int32
	svc := execproto.New(server, payee(&calls), p2p.WithReadTimeout(500*time.Millisecond), p2p.WithMaxRequestSize(64<<10))
	t.Cleanup(func() { _ = svc.Close() })
	ctx := context.Background()
	req := execproto.Request{Body: json.RawMessage(`{"sealed":"00ff"}`)}

	resp, err := execproto.Call(ctx, client, server.ID(), req)
	if err != nil || resp.Status != http.StatusPaymentRequired || resp.Header("payment-required") == "" {
		t.Fatalf("first call: %+v %v", resp, err)
	}
	req.Headers = map[string]string{"Payment-Signature": "sig"}
	resp, err = execproto.Call(ctx, client, server.ID(), req)
	if err != nil || resp.Status != http.StatusOK || resp.Header(execproto.HeaderPaymentResponse) != "settled" ||
		!strings.Contains(string(resp.Body), client.ID().String()) {
		t.Fatalf("paid call: %+v %v", resp, err)
	}
	resp, err = execproto.Call(ctx, client, server.ID(), execproto.Request{Headers: req.Headers, Body: json.RawMessage(`"bad"`)})
	if err != nil || resp.Status != http.StatusInternalServerError {
		t.Fatalf("broken handler: %+v %v", resp, err)
	}

	// The client refuses to send malformed requests.
	for name, bad := range map[string]execproto.Request{
		"no body":       {},
		"body not json": {Body: json.RawMessage(`{`)},
		"header name":   {Headers: map[string]string{"bad name": "x"}, Body: json.RawMessage(`1`)},
		"header value":  {Headers: map[string]string{"x": "a\r\nb"}, Body: json.RawMessage(`1`)},
		"header twice":  {Headers: map[string]string{"x": "1", "X": "2"}, Body: json.RawMessage(`1`)},
	} {
		if _, err := execproto.Call(ctx, client, server.ID(), bad); !errors.Is(err, execproto.ErrBadMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	before := calls.Load()
	p2ptest.Misbehave(t, client, server.ID(), execproto.ID, 64<<10, 500*time.Millisecond, func() error {
		resp, err := execproto.Call(ctx, other, server.ID(), execproto.Request{Body: json.RawMessage(`{}`)})
		if err == nil && resp.Status != http.StatusPaymentRequired {
			err = errors.New("unexpected status")
		}
		return err
	})
	if got := calls.Load() - before; got != 5 {
		t.Fatalf("handler ran %d times for 5 good calls: misbehaving peers reached it", got)
	}
}

// TestServerRejectsBadHeaders: a well-framed request with headers that
// break the rules gets 400 and never reaches the handler.
func TestServerRejectsBadHeaders(t *testing.T) {
	server, client, _ := p2ptest.Trio(t)
	var calls atomic.Int32
	svc := execproto.New(server, payee(&calls))
	t.Cleanup(func() { _ = svc.Close() })
	s, err := client.NewStream(context.Background(), server.ID(), execproto.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw := `{"headers":{"a b":"c"},"body":{}}`
	if _, err := s.Write(append([]byte{byte(len(raw))}, raw...)); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseWrite()
	buf := make([]byte, 512)
	n, _ := s.Read(buf)
	if !strings.Contains(string(buf[:n]), `"status":400`) || calls.Load() != 0 {
		t.Fatalf("got %q, handler calls %d", buf[:n], calls.Load())
	}
}
