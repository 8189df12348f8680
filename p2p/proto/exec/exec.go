// Package exec is the /agentnet/exec/1.0.0 stream protocol: run an agent
// on a remote node with the same sealed request, x402 payment
// requirements, payment and receipt as the HTTP flow. A request is an
// HTTP request without a URL (headers and a JSON body) and a response an
// HTTP response (status, headers, JSON body), so the node serves both
// transports with one code path: the first call without payment gets 402
// with a PAYMENT-REQUIRED header, the retry carries PAYMENT-SIGNATURE, and
// the 200 answer carries PAYMENT-RESPONSE.
//
// Wire: one request frame {"headers": {...}, "body": <json>} from the
// client, which then closes its write side; one response frame
// {"status": 200, "headers": {...}, "body": <json>} from the server. One
// exchange per stream.
package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/agentnet/agentnode/p2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ID is the protocol id.
const ID = "/agentnet/exec/1.0.0"

// ServiceName is the resource-manager service of the handler's streams.
const ServiceName = "agentnet.exec"

// Caps and defaults.
const (
	// DefaultMaxRequestSize caps a request frame: a sealed request may
	// carry a whole module, hex encoded.
	DefaultMaxRequestSize = 16 << 20
	// MaxResponseSize caps a response frame.
	MaxResponseSize = 16 << 20
	// MaxHeaders caps the header count and MaxHeaderBytes their total
	// size (names and values); x402 headers are a few KiB of base64.
	MaxHeaders     = 32
	MaxHeaderBytes = 32 << 10
	// DefaultTimeout bounds a stream: reading, executing, answering.
	DefaultTimeout = 2 * time.Minute
	// DefaultReadTimeout bounds the wait for the whole request.
	DefaultReadTimeout = 30 * time.Second
)

// The x402 v2 headers, spelled as the HTTP flow spells them. Header
// lookups are case-insensitive.
const (
	HeaderPaymentRequired  = "PAYMENT-REQUIRED"
	HeaderPaymentSignature = "PAYMENT-SIGNATURE"
	HeaderPaymentResponse  = "PAYMENT-RESPONSE"
)

// Request is one call.
type Request struct {
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body"`
}

// Response is the answer, with HTTP semantics.
type Response struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// Header returns the value of header name, ignoring case.
func (r Request) Header(name string) string { return lookup(r.Headers, name) }

// Header returns the value of header name, ignoring case.
func (r Response) Header(name string) string { return lookup(r.Headers, name) }

func lookup(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Handler executes calls; the node implements it with the same code as
// its HTTP route. It must answer, never block past ctx.
type Handler interface {
	Handle(ctx context.Context, remote peer.ID, req Request) Response
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, remote peer.ID, req Request) Response

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, remote peer.ID, req Request) Response {
	return f(ctx, remote, req)
}

// ErrBadMessage is returned when a request or response breaks the frame
// rules: bad status, bad header names or values, too many headers, a body
// that is not JSON.
var ErrBadMessage = errors.New("bad exec message")

// Service is the registered handler.
type Service struct {
	h   host.Host
	svc *p2p.Service
}

// New registers the handler on h. Defaults: a DefaultTimeout stream
// deadline (it must exceed the node's execution limit), DefaultReadTimeout
// for the request, requests of DefaultMaxRequestSize, at most 4 calls per
// peer.
func New(h host.Host, handler Handler, opts ...p2p.Option) *Service {
	cfg := p2p.ServiceConfig{Name: ServiceName, Timeout: DefaultTimeout, ReadTimeout: DefaultReadTimeout,
		MaxRequestSize: DefaultMaxRequestSize, MaxPerPeer: 4}.Apply(opts...)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	svc := p2p.NewService(cfg, func(ctx context.Context, s network.Stream) error {
		var req Request
		if err := p2p.ReadJSON(s, cfg.MaxRequestSize, &req); err != nil {
			return err
		}
		if err := req.check(); err != nil {
			return p2p.WriteJSON(s, MaxResponseSize, Response{Status: http.StatusBadRequest,
				Body: errorBody("bad_request", err.Error())})
		}
		resp := handler.Handle(ctx, s.Conn().RemotePeer(), req)
		if err := resp.check(); err != nil {
			log.Warn("exec handler returned a bad response", "err", err)
			resp = Response{Status: http.StatusInternalServerError, Body: errorBody("internal", "the node returned a malformed response")}
		}
		if err := p2p.WriteJSON(s, MaxResponseSize, resp); err != nil {
			if errors.Is(err, p2p.ErrFrameTooLarge) {
				return p2p.WriteJSON(s, MaxResponseSize, Response{Status: http.StatusInternalServerError,
					Body: errorBody("response_too_large", fmt.Sprintf("response exceeds %d bytes", MaxResponseSize))})
			}
			return err
		}
		return nil
	})
	h.SetStreamHandler(ID, svc.ServeStream)
	return &Service{h: h, svc: svc}
}

// Close removes the handler and waits for running calls.
func (s *Service) Close() error {
	s.h.RemoveStreamHandler(ID)
	return s.svc.Close()
}

// Call sends req to peer p and returns its response, whatever the status:
// a 402 is an answer, not an error. Errors are transport and framing
// failures.
func Call(ctx context.Context, h host.Host, p peer.ID, req Request) (Response, error) {
	if err := req.check(); err != nil {
		return Response{}, fmt.Errorf("call %s: %w", p, err)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return Response{}, fmt.Errorf("call %s: encode request: %w", p, err)
	}
	raw, err := p2p.RoundTrip(ctx, h, p, ID, b, MaxResponseSize)
	if err != nil {
		return Response{}, fmt.Errorf("call %s: %w", p, err)
	}
	var resp Response
	if err := p2p.DecodeJSON(raw, &resp); err != nil {
		return Response{}, fmt.Errorf("call %s: %w", p, err)
	}
	if err := resp.check(); err != nil {
		return Response{}, fmt.Errorf("call %s: %w", p, err)
	}
	return resp, nil
}

func errorBody(code, msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	return b
}

func (r Request) check() error {
	if len(r.Body) == 0 || !json.Valid(r.Body) {
		return fmt.Errorf("request body is not JSON: %w", ErrBadMessage)
	}
	return checkHeaders(r.Headers)
}

func (r Response) check() error {
	if r.Status < 100 || r.Status > 599 {
		return fmt.Errorf("status %d: %w", r.Status, ErrBadMessage)
	}
	if len(r.Body) > 0 && !json.Valid(r.Body) {
		return fmt.Errorf("response body is not JSON: %w", ErrBadMessage)
	}
	return checkHeaders(r.Headers)
}

// checkHeaders applies HTTP's rules: names are tokens, values carry no
// control characters, a name appears once whatever its case.
func checkHeaders(h map[string]string) error {
	if len(h) > MaxHeaders {
		return fmt.Errorf("%d headers, cap %d: %w", len(h), MaxHeaders, ErrBadMessage)
	}
	total := 0
	seen := make(map[string]bool, len(h))
	for k, v := range h {
		total += len(k) + len(v)
		if k == "" || strings.ContainsFunc(k, notToken) {
			return fmt.Errorf("header name %q: %w", k, ErrBadMessage)
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return fmt.Errorf("header %q value has control characters: %w", k, ErrBadMessage)
		}
		if lk := strings.ToLower(k); seen[lk] {
			return fmt.Errorf("header %q twice: %w", k, ErrBadMessage)
		} else {
			seen[lk] = true
		}
	}
	if total > MaxHeaderBytes {
		return fmt.Errorf("headers of %d bytes, cap %d: %w", total, MaxHeaderBytes, ErrBadMessage)
	}
	return nil
}

// notToken reports whether r may not appear in an HTTP header name.
func notToken(r rune) bool {
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
		return false
	}
	return !strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}
