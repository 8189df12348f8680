package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/agentnet/agentnode/node/api"
)

// Call is a bridge request independent of its transport: the headers and
// JSON body of an HTTP request, or of a p2p stream request.
type Call struct {
	Header http.Header
	Body   []byte
	// Resource names what is being paid for in x402 terms: the HTTP path,
	// or the stream protocol id.
	Resource string
	// Peer is the libp2p peer id of a caller from the network, "" for the
	// local HTTP bridge.
	Peer string
	// AgentsOnly refuses requests that carry their own module instead of
	// naming a deployed agent (403 agents_only).
	AgentsOnly bool
	// Script marks the policy route: the request must carry a Starlark
	// script, and other routes refuse scripts.
	Script bool
}

// Reply is a bridge answer independent of its transport: status, headers
// and JSON body.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Route names of the p2p faces of the bridge, for metrics and logs.
const (
	RouteP2PExec    = "p2p /agentnet/exec/1.0.0"
	RouteP2PSession = "p2p /agentnet/attest/1.0.0"
)

// Exec runs a sealed execution request from a p2p stream: the same code
// path as POST /x402_execute/verifiable/wasm, with its limits, shedding,
// metrics and (when the node takes payments) payment terms, answered as
// status, headers and body. Errors come back as the bridge's JSON errors.
func (s *Server) Exec(ctx context.Context, call Call) Reply {
	return s.serveCall(ctx, RouteP2PExec, call, s.exec)
}

// OpenSession opens an attested session for a p2p stream: the same code
// path as POST /verifiable/encrypt/create_keypair.
func (s *Server) OpenSession(ctx context.Context, call Call) Reply {
	return s.serveCall(ctx, RouteP2PSession, call, s.openSession(true))
}

// serveCall runs core for a non-HTTP call with what handle gives HTTP
// routes: a request id, a recovered panic, the JSON error rendering, a log
// line and metrics.
func (s *Server) serveCall(ctx context.Context, route string, call Call, core func(context.Context, Call) (*Reply, error)) (rep Reply) {
	start := time.Now()
	id := requestID(&http.Request{Header: call.Header})
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panic", "panic", p, "stack", string(debug.Stack()))
			rep = s.errorReply(route, id, call.Peer, fmt.Errorf("handler panic: %v", p))
		}
		if rep.Header == nil {
			rep.Header = http.Header{}
		}
		rep.Header.Set("X-Request-Id", id)
		s.metrics.observe(route, rep.Status, time.Since(start))
	}()
	r, err := core(ctx, call)
	if err != nil {
		return s.errorReply(route, id, call.Peer, err)
	}
	return *r
}

// errorReply renders err as the bridge answers it, over HTTP or a stream
// (peer is the caller's peer id on a stream), and logs it.
func (s *Server) errorReply(route, id, peer string, err error) Reply {
	e := errorFor(err)
	lvl := s.log.Info
	if e.Status >= 500 {
		lvl = s.log.Error
	}
	attrs := []any{"request_id", id, "route", route, "status", e.Status, "code", e.Code, "err", err}
	if peer != "" {
		attrs = append(attrs, "peer", peer)
	}
	lvl("request failed", attrs...)
	rep := jsonReply(e.Status, api.Error{Error: api.ErrorDetail{Code: e.Code, Message: e.Message}})
	if e.Body != nil {
		rep.Body = e.Body
	}
	for k, v := range e.Header {
		rep.Header[k] = v
	}
	return *rep
}

// jsonReply encodes v as a reply.
func jsonReply(status int, v any) *Reply {
	b, err := json.Marshal(v)
	if err != nil {
		// Every reply type marshals; this is a bug, answered as one.
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	return &Reply{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: append(b, '\n')}
}

// write sends the reply on an HTTP response.
func (r *Reply) write(w http.ResponseWriter) {
	for k, v := range r.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.Status)
	_, _ = w.Write(r.Body)
}

// readBody reads an HTTP request body of at most MaxBodyBytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: api.CodeInvalidJSON, Message: "read body: " + err.Error()}
	}
	return b, nil
}

// decodeJSON decodes a body the way decodeBody does: one JSON object, no
// unknown fields, nothing after it, at most MaxBodyBytes.
func (s *Server) decodeJSON(b []byte, v any) error {
	if int64(len(b)) > s.cfg.MaxBodyBytes {
		return &http.MaxBytesError{Limit: s.cfg.MaxBodyBytes}
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		msg := err.Error()
		if errors.Is(err, io.EOF) {
			msg = "empty body"
		}
		if strings.Contains(msg, "encrypted_wasm") || strings.Contains(msg, "encrypted_arguments") {
			msg += " (this node takes the module, arguments and stdin in one sealed encrypted_request: see docs/api.md)"
		}
		return &Error{Status: http.StatusBadRequest, Code: api.CodeInvalidJSON, Message: "decode body: " + msg}
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return &Error{Status: http.StatusBadRequest, Code: api.CodeInvalidJSON, Message: "decode body: trailing data after JSON object"}
	}
	return nil
}
