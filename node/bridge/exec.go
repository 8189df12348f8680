package bridge

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"runtime/trace"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/script"
)

// handlePolicy is POST /x402_policy/unsafe/python: a sealed Starlark
// script's main(args) run in the script sandbox (not CPython, whatever the
// seed's route name says), paid and committed like an execution.
func (s *Server) handlePolicy(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	rep, err := s.exec(r.Context(), Call{Header: r.Header, Body: body, Resource: r.URL.Path, Script: true})
	if err != nil {
		return err
	}
	rep.write(w)
	return nil
}

// handleExec is POST /x402_execute/verifiable/wasm, the HTTP face of exec.
func (s *Server) handleExec(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	rep, err := s.exec(r.Context(), Call{Header: r.Header, Body: body, Resource: r.URL.Path})
	if err != nil {
		return err
	}
	rep.write(w)
	return nil
}

// exec runs a sealed request: decrypt and validate, (pay), execute once,
// return the sealed result with its signed commitment. It is the one code
// path of the HTTP route and of the p2p exec stream ([Server.Exec]).
func (s *Server) exec(ctx context.Context, call Call) (*Reply, error) {
	if !s.execs.enter() {
		s.metrics.rejected.WithLabelValues("overload").Inc()
		return nil, errOverloaded(time.Second)
	}
	defer s.execs.leave()
	var req api.ExecRequest
	if err := s.decodeJSON(call.Body, &req); err != nil {
		return nil, err
	}
	sid, err := decodeID("session_id", req.SessionID)
	if err != nil {
		return nil, err
	}
	rid, err := decodeID("request_id", req.RequestID)
	if err != nil {
		return nil, err
	}
	sealed, err := decodeHex("encrypted_request", req.EncryptedRequest)
	if err != nil {
		return nil, err
	}
	if len(sealed) == 0 {
		return nil, &Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: "field encrypted_request is empty"}
	}
	region := trace.StartRegion(ctx, "exec.open")
	job, err := s.enc.OpenRequest(ctx, sid, rid, sealed)
	region.End()
	if err != nil {
		return nil, err
	}
	if isScript := job.Kind() == enclave.KindScript; isScript != call.Script {
		msg := "this route runs modules and agents; send scripts to POST /x402_policy/unsafe/python"
		if call.Script {
			msg = "this route runs Starlark scripts (payload field script); send modules to POST /x402_execute/verifiable/wasm"
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: msg}
	}
	if call.AgentsOnly && job.Agent() == "" {
		return nil, &Error{Status: http.StatusForbidden, Code: api.CodeAgentsOnly,
			Message: "this node runs only its deployed agents for network peers; name an agent instead of sending a module"}
	}
	if req.PublicKey != "" {
		pk, err := decodeHex("public_key", req.PublicKey)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(pk, job.ClientKey()) {
			return nil, &Error{Status: http.StatusUnauthorized, Code: api.CodeSessionNotFound, Message: "public_key is not this session's client key"}
		}
	}
	agent, err := s.deployment(job)
	if err != nil {
		return nil, err
	}
	scope, endRun, err := s.beginAgentRun(ctx, call, job)
	if err != nil {
		return nil, err
	}
	defer endRun()
	ch, err := s.charge(ctx, call, job, agent)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	runCtx, cancel := agent.limit(scope)
	region = trace.StartRegion(ctx, "exec.run")
	receipt, err := s.enc.Run(runCtx, job, enclave.RunOptions{Payment: ch.Ref(), Attest: req.AttestResult, Fuel: agent.fuel()})
	region.End()
	cancel()
	s.metrics.execution(err)
	if err != nil {
		hdr, abortErr := ch.Abort(ctx, ranAndFailed(err))
		err = withHeader(errors.Join(err, abortErr), hdr)
		s.record(call, job, start, err, nil)
		return nil, err
	}
	payment, hdr, err := ch.Settle(ctx)
	s.record(call, job, start, err, payment)
	if err != nil {
		return nil, err
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
	rep := jsonReply(http.StatusOK, resp)
	for k, v := range hdr {
		rep.Header[k] = v
	}
	return rep, nil
}

// outcome names an execution's result for metrics.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, wasm.ErrTimeout):
		return "timeout"
	case errors.Is(err, wasm.ErrOutOfFuel):
		return "out_of_fuel"
	case errors.Is(err, wasm.ErrOutputTooLarge):
		return "output_too_large"
	case errors.Is(err, wasm.ErrTrap):
		return "trap"
	case errors.Is(err, enclave.ErrReplay):
		return "replay"
	case errors.Is(err, enclave.ErrScript):
		return "script_error"
	}
	return "error"
}

// ranAndFailed reports whether a failed Run did work before failing (the
// guest trapped, spent its fuel, timed out, wrote too much) rather than
// being refused before it started (replay, expired session, cancelled while
// queued).
func ranAndFailed(err error) bool {
	if errors.Is(err, enclave.ErrScript) {
		return !errors.Is(err, script.ErrSyntax)
	}
	return errors.Is(err, wasm.ErrTrap) || errors.Is(err, wasm.ErrTimeout) || errors.Is(err, wasm.ErrOutOfFuel) ||
		errors.Is(err, wasm.ErrOutputTooLarge)
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
