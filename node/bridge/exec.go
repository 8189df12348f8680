package bridge

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/node/api"
)

// handleExec runs a sealed request: decrypt and validate, (pay), execute
// once, return the sealed result with its signed commitment.
func (s *Server) handleExec(w http.ResponseWriter, r *http.Request) error {
	if !s.execs.enter() {
		s.metrics.rejected.WithLabelValues("overload").Inc()
		return errOverloaded(time.Second)
	}
	defer s.execs.leave()
	var req api.ExecRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}
	sid, err := decodeID("session_id", req.SessionID)
	if err != nil {
		return err
	}
	rid, err := decodeID("request_id", req.RequestID)
	if err != nil {
		return err
	}
	sealed, err := decodeHex("encrypted_request", req.EncryptedRequest)
	if err != nil {
		return err
	}
	if len(sealed) == 0 {
		return &Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: "field encrypted_request is empty"}
	}
	job, err := s.enc.OpenRequest(r.Context(), sid, rid, sealed)
	if err != nil {
		return err
	}
	if req.PublicKey != "" {
		pk, err := decodeHex("public_key", req.PublicKey)
		if err != nil {
			return err
		}
		if !bytes.Equal(pk, job.ClientKey()) {
			return &Error{Status: http.StatusUnauthorized, Code: api.CodeSessionNotFound, Message: "public_key is not this session's client key"}
		}
	}
	ch, err := s.charge(r.Context(), r.Header, r.URL.Path, job)
	if err != nil {
		return err
	}
	receipt, err := s.enc.Run(r.Context(), job, enclave.RunOptions{Payment: ch.Ref(), Attest: req.AttestResult})
	s.metrics.execution(err)
	if err != nil {
		hdr, abortErr := ch.Abort(r.Context(), ranAndFailed(err))
		return withHeader(errors.Join(err, abortErr), hdr)
	}
	payment, hdr, err := ch.Settle(r.Context())
	if err != nil {
		return err
	}
	for k, v := range hdr {
		w.Header()[k] = v
	}
	resp := api.ExecResponse{
		SessionID:        receipt.SessionID.String(),
		RequestID:        receipt.RequestID.String(),
		EncryptedResult:  hex.EncodeToString(receipt.SealedResult),
		ResultCommitment: hex.EncodeToString(receipt.Commitment[:]),
		Signature:        hex.EncodeToString(receipt.Signature),
		IdentityPubkey:   hex.EncodeToString(receipt.IdentityPub),
		Platform:         string(receipt.Platform),
	}
	if receipt.Evidence != nil {
		resp.ResultQuote = hex.EncodeToString(receipt.Evidence.Quote)
	}
	resp.Payment = payment
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// outcome names an execution's result for metrics.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, wasm.ErrTimeout):
		return "timeout"
	case errors.Is(err, wasm.ErrOutputTooLarge):
		return "output_too_large"
	case errors.Is(err, wasm.ErrTrap):
		return "trap"
	case errors.Is(err, enclave.ErrReplay):
		return "replay"
	}
	return "error"
}

// ranAndFailed reports whether a failed Run did work before failing (the
// guest trapped, timed out, wrote too much) rather than being refused
// before it started (replay, expired session, cancelled while queued).
func ranAndFailed(err error) bool {
	return errors.Is(err, wasm.ErrTrap) || errors.Is(err, wasm.ErrTimeout) || errors.Is(err, wasm.ErrOutputTooLarge)
}

// withHeader attaches response headers to an error's answer.
func withHeader(err error, hdr http.Header) error {
	if len(hdr) == 0 {
		return err
	}
	e := errorFor(err)
	if e.Header == nil {
		e.Header = http.Header{}
	}
	for k, v := range hdr {
		e.Header[k] = v
	}
	return e
}
