// Package attest is the /agentnet/attest/1.0.0 stream protocol: open an
// attested session on a remote node. The bodies are the JSON of the HTTP
// bridge's create_keypair route, opaque here: the node plugs its session
// opener in on the serving side, and the calling side verifies the
// evidence in the answer itself. The protocol adds only transport: the
// remote peer id (authenticated by Noise) reaches the opener.
//
// Wire: the client sends one frame holding the request body (a JSON
// object, at most MaxRequestSize) and closes its write side; the server
// answers with one JSON frame {"status": 200, "body": <response>} or
// {"status": 4xx|5xx, "error": {"code": "...", "message": "..."}}.
package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/agentnet/agentnode/p2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ID is the protocol id.
const ID = "/agentnet/attest/1.0.0"

// ServiceName is the resource-manager service of the handler's streams.
const ServiceName = "agentnet.attest"

// Size caps.
const (
	// MaxRequestSize caps the request body: a client key, a nonce and a
	// suite name in hex JSON.
	MaxRequestSize = 16 << 10
	// MaxResponseSize caps the response frame: keys, ids and evidence,
	// whose quote (attest.MaxQuoteSize) doubles as hex.
	MaxResponseSize = 256 << 10
)

// Opener opens a session for a remote peer; the node implements it with
// its enclave. req and the result are create_keypair JSON bodies.
type Opener interface {
	OpenSession(ctx context.Context, remote peer.ID, req []byte) ([]byte, error)
}

// OpenerFunc adapts a function to Opener.
type OpenerFunc func(ctx context.Context, remote peer.ID, req []byte) ([]byte, error)

// OpenSession calls f.
func (f OpenerFunc) OpenSession(ctx context.Context, remote peer.ID, req []byte) ([]byte, error) {
	return f(ctx, remote, req)
}

// Error is a refusal the remote node sent, with the bridge's error shape.
// An Opener returns one to choose what the client sees; any other error
// reaches the client as 500 "internal" without its text.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("remote session refused: %d %s: %s", e.Status, e.Code, e.Message)
}

// ErrBadResponse is returned when the answer is not a well-formed frame.
var ErrBadResponse = errors.New("bad attest response")

type response struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// Service is the registered handler.
type Service struct {
	h   host.Host
	svc *p2p.Service
}

// New registers the handler on h, opening sessions with op. Defaults: a
// 15 s stream deadline (which bounds the opener too), at most 4 streams
// per peer (each costs a key pair and a quote), requests of
// MaxRequestSize.
func New(h host.Host, op Opener, opts ...p2p.Option) *Service {
	cfg := p2p.ServiceConfig{Name: ServiceName, Timeout: 15 * time.Second, MaxPerPeer: 4, MaxRequestSize: MaxRequestSize}.Apply(opts...)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	svc := p2p.NewService(cfg, func(ctx context.Context, s network.Stream) error {
		req, err := p2p.ReadFrame(s, cfg.MaxRequestSize)
		if err != nil {
			return err
		}
		if !isObject(req) {
			return fmt.Errorf("request is not a JSON object: %w", p2p.ErrMalformedFrame)
		}
		remote := s.Conn().RemotePeer()
		body, err := op.OpenSession(ctx, remote, req)
		var resp response
		var refusal *Error
		switch {
		case errors.As(err, &refusal):
			resp = response{Status: refusal.Status, Error: refusal}
			if resp.Status < 400 || resp.Status > 599 {
				resp.Status = http.StatusInternalServerError
			}
		case err != nil:
			log.Warn("open session for remote peer", "peer", remote, "err", err)
			resp = response{Status: http.StatusInternalServerError, Error: &Error{Code: "internal", Message: "the node could not open a session"}}
		case !isObject(body):
			log.Warn("session opener returned no JSON object", "peer", remote)
			resp = response{Status: http.StatusInternalServerError, Error: &Error{Code: "internal", Message: "the node could not open a session"}}
		default:
			resp = response{Status: http.StatusOK, Body: body}
		}
		return p2p.WriteJSON(s, MaxResponseSize, resp)
	})
	h.SetStreamHandler(ID, svc.ServeStream)
	return &Service{h: h, svc: svc}
}

// Close removes the handler and waits for running streams.
func (s *Service) Close() error {
	s.h.RemoveStreamHandler(ID)
	return s.svc.Close()
}

// Open asks peer p to open a session with the create_keypair body req and
// returns the response body. A refusal is an *Error. The caller verifies
// the evidence in the body against its policy and p's identity key.
func Open(ctx context.Context, h host.Host, p peer.ID, req []byte) ([]byte, error) {
	if len(req) > MaxRequestSize || !isObject(req) {
		return nil, fmt.Errorf("open session on %s: request must be a JSON object of at most %d bytes: %w", p, MaxRequestSize, p2p.ErrMalformedFrame)
	}
	raw, err := p2p.RoundTrip(ctx, h, p, ID, req, MaxResponseSize)
	if err != nil {
		return nil, fmt.Errorf("open session on %s: %w", p, err)
	}
	var resp response
	if err := p2p.DecodeJSON(raw, &resp); err != nil {
		return nil, fmt.Errorf("open session on %s: %w: %w", p, ErrBadResponse, err)
	}
	switch {
	case resp.Status == http.StatusOK && isObject(resp.Body) && resp.Error == nil:
		return resp.Body, nil
	case resp.Status >= 400 && resp.Status <= 599 && resp.Error != nil:
		resp.Error.Status = resp.Status
		return nil, fmt.Errorf("open session on %s: %w", p, resp.Error)
	}
	return nil, fmt.Errorf("open session on %s: status %d: %w", p, resp.Status, ErrBadResponse)
}

// isObject reports whether b is one valid JSON object.
func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 1 && b[0] == '{' && json.Valid(b)
}
