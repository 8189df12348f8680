package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/node/api"
)

// Error is an error with the HTTP status and code it is answered with.
type Error struct {
	Status  int
	Code    string
	Message string
	// Header is set on the response, e.g. Retry-After or PAYMENT-REQUIRED.
	Header http.Header
	// Body, when set, is the JSON answer instead of the error object: a
	// 402 carries the x402 v1 body {x402Version, error, accepts} there.
	Body []byte
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorFor maps an error to its response. Sentinels of the enclave and the
// executor have fixed codes; anything unknown is an internal error whose
// detail is logged, never sent.
func errorFor(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var tooBig *http.MaxBytesError
	table := []struct {
		target error
		status int
		code   string
	}{
		{enclave.ErrBadRequest, http.StatusBadRequest, api.CodeBadRequest},
		{seal.ErrUnknownSuite, http.StatusBadRequest, api.CodeBadRequest},
		{seal.ErrBadKey, http.StatusBadRequest, api.CodeBadRequest},
		{enclave.ErrDecrypt, http.StatusBadRequest, api.CodeDecryptFailed},
		{enclave.ErrSessionNotFound, http.StatusUnauthorized, api.CodeSessionNotFound},
		{enclave.ErrSessionExpired, http.StatusUnauthorized, api.CodeSessionExpired},
		{enclave.ErrSessionExhausted, http.StatusUnauthorized, api.CodeSessionExhausted},
		{enclave.ErrReplay, http.StatusConflict, api.CodeReplayedRequest},
		{enclave.ErrUnknownAgent, http.StatusNotFound, api.CodeUnknownAgent},
		{wasm.ErrModuleTooLarge, http.StatusRequestEntityTooLarge, api.CodeModuleTooLarge},
		{wasm.ErrInvalidModule, http.StatusUnprocessableEntity, api.CodeInvalidModule},
		{wasm.ErrTimeout, http.StatusUnprocessableEntity, api.CodeTimeout},
		{wasm.ErrOutOfFuel, http.StatusUnprocessableEntity, api.CodeOutOfFuel},
		{wasm.ErrOutputTooLarge, http.StatusUnprocessableEntity, api.CodeOutputTooLarge},
		{wasm.ErrTrap, http.StatusUnprocessableEntity, api.CodeTrap},
		{wasm.ErrInvalidInput, http.StatusBadRequest, api.CodeBadRequest},
		{wasm.ErrClosed, http.StatusServiceUnavailable, api.CodeBusy},
		{enclave.ErrScript, http.StatusUnprocessableEntity, api.CodeScriptError},
	}
	for _, t := range table {
		if errors.Is(err, t.target) {
			return &Error{Status: t.status, Code: t.code, Message: err.Error()}
		}
	}
	switch {
	case errors.As(err, &tooBig):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: api.CodeBodyTooLarge,
			Message: fmt.Sprintf("request body over %d bytes", tooBig.Limit)}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: api.CodeBusy, Message: "request cancelled or timed out before it ran"}
	}
	return &Error{Status: http.StatusInternalServerError, Code: api.CodeInternal, Message: "internal error"}
}

// handle registers a handler under pattern with the bridge's common
// behaviour: a request id, the JSON error rendering, metrics and a log line.
func (s *Server) handle(pattern string, h func(http.ResponseWriter, *http.Request) error) {
	route := pattern
	if method, path, ok := strings.Cut(pattern, " "); ok {
		s.methods[path] = append(s.methods[path], method)
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r)
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		if err := s.serve(h, sw, r); err != nil {
			rep := s.errorReply(route, id, "", err)
			rep.write(sw)
		}
		s.metrics.observe(route, sw.code(), time.Since(start))
	})
}

// serve runs h and turns a panic into an internal error: nothing a client
// sends may take the node down.
func (s *Server) serve(h func(http.ResponseWriter, *http.Request) error, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panic", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return h(w, r)
}

func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && isPrintableASCII(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON body of at most MaxBodyBytes into v. Unknown
// fields are errors: a misspelt field must not be silently ignored.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	d := json.NewDecoder(body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
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

// decodeHex decodes a hex field, naming it in the error.
func decodeHex(field, s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: api.CodeInvalidHex, Message: fmt.Sprintf("field %s: not hex (lowercase, no 0x): %v", field, err)}
	}
	return b, nil
}

func decodeID(field, s string) (enclave.ID, error) {
	id, err := enclave.ParseID(s)
	if err != nil {
		return id, &Error{Status: http.StatusBadRequest, Code: api.CodeInvalidHex, Message: fmt.Sprintf("field %s: want 32 hex characters (16 bytes)", field)}
	}
	return id, nil
}
