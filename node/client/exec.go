package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/policy"
)

// ExecInput is what to run: a module, the name of an agent deployed on the
// node, or a Starlark script (main(args), on the node's policy route), with
// arguments and stdin.
type ExecInput struct {
	Wasm   []byte
	Agent  string
	Script string
	Args   []string
	Stdin  []byte
	// AttestResult asks the node for fresh evidence over the commitment.
	AttestResult bool
	// Module, when not zero, is the SHA-256 of the module an Agent must
	// run, as the agent's verified card advertises it: a result of any
	// other module is refused.
	Module [32]byte
	// Header is sent with the request (payment headers).
	Header http.Header
	// Tags are the agent's card tags, shown to the payer policy.
	Tags []string
	// MaxPrice, when set, caps this call's payment below the payer's own
	// MaxPrice: an agent's call passes the most it may pay (its max price
	// and what is left of its budget).
	MaxPrice *big.Int
	// Origin, when set, is who causes this call's payment, for the payer
	// policy, instead of the payer's Origin: the calling agent.
	Origin *policy.Origin
}

// Result is a verified result: its commitment was recomputed from what the
// client sent and what the sealed result opened to, and the node's
// identity key signed it.
type Result struct {
	Output   []byte
	ExitCode uint32
	Fuel     uint64
	Stderr   []byte

	SessionID  enclave.ID
	RequestID  enclave.ID
	ModuleHash [32]byte
	Salt       [32]byte
	Commitment [32]byte
	Signature  []byte
	Session    *Session
	// ResultEvidence is the per-result evidence, when asked for; it was
	// verified against the client's policy.
	ResultEvidence *attest.Evidence
	Payment        *api.Payment
	// PaymentRequirements are the terms the client's Payer paid, nil when
	// it paid nothing.
	PaymentRequirements *x402.PaymentRequirements
	// Header is the response's headers (PAYMENT-RESPONSE).
	Header http.Header
}

// Exec runs in on the node through the client's cached session, opening
// and verifying one first when needed.
func (c *Client) Exec(ctx context.Context, in ExecInput) (*Result, error) {
	s, err := c.currentSession(ctx)
	if err != nil {
		return nil, err
	}
	res, err := c.ExecIn(ctx, s, in)
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.Code == api.CodeSessionNotFound || apiErr.Code == api.CodeSessionExpired || apiErr.Code == api.CodeSessionExhausted) {
		// The node dropped the session (restart, table full, expiry): one
		// retry in a fresh session.
		c.dropSession(s)
		if s, err = c.currentSession(ctx); err != nil {
			return nil, err
		}
		return c.ExecIn(ctx, s, in)
	}
	return res, err
}

// ExecIn runs in within session s.
func (c *Client) ExecIn(ctx context.Context, s *Session, in ExecInput) (*Result, error) {
	if in.Script != "" {
		return c.run(ctx, s, in, c.policyRoute)
	}
	return c.run(ctx, s, in, c.tr.Exec)
}

// sendFunc delivers a sealed request to a node route.
type sendFunc func(ctx context.Context, header http.Header, req *api.ExecRequest) (*api.ExecResponse, http.Header, error)

// policyRoute sends a sealed script to POST /x402_policy/unsafe/python.
// Scripts run only through a node's HTTP bridge.
func (c *Client) policyRoute(ctx context.Context, header http.Header, req *api.ExecRequest) (*api.ExecResponse, http.Header, error) {
	if _, ok := c.tr.(httpTransport); !ok {
		return nil, nil, errors.New("run script: scripts run through a node's HTTP bridge, not over the p2p transport")
	}
	var resp api.ExecResponse
	h, err := c.post(ctx, "/x402_policy/unsafe/python", header, req, &resp)
	if err != nil {
		return nil, nil, err
	}
	return &resp, h, nil
}

// run seals in for session s, sends it, and opens and verifies the answer.
func (c *Client) run(ctx context.Context, s *Session, in ExecInput, send sendFunc) (*Result, error) {
	var rid enclave.ID
	if _, err := rand.Read(rid[:]); err != nil {
		return nil, fmt.Errorf("request id: %w", err)
	}
	req, err := SealRequest(s, rid, in)
	if err != nil {
		return nil, err
	}
	resp, respHeader, paid, err := c.exchange(ctx, s, in, req, send)
	if err != nil {
		return nil, err
	}
	res, err := c.OpenResult(ctx, s, rid, in, resp)
	if err != nil {
		return nil, err
	}
	if paid != nil {
		if err := paid.check(res); err != nil {
			return nil, err
		}
	}
	res.Header = respHeader
	return res, nil
}

// SealRequest builds the bridge request for in: the payload sealed to the
// session key, bound to the session and request ids.
func SealRequest(s *Session, rid enclave.ID, in ExecInput) (*api.ExecRequest, error) {
	pt, err := json.Marshal(enclave.ExecPayload{Wasm: in.Wasm, Agent: in.Agent, Script: in.Script, Args: in.Args, Stdin: in.Stdin})
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	env, err := seal.Seal(s.sessionPub, []byte(enclave.InfoExec), enclave.MessageAAD(s.ID, rid), pt)
	if err != nil {
		return nil, err
	}
	return &api.ExecRequest{
		SessionID:        s.ID.String(),
		RequestID:        rid.String(),
		EncryptedRequest: hex.EncodeToString(env),
		AttestResult:     in.AttestResult,
	}, nil
}

// OpenResult opens and verifies a response to request rid: it decrypts the
// result, recomputes the commitment from in and the result, checks the
// signature by the session's identity key and, when present, the result
// evidence against the client's policy.
func (c *Client) OpenResult(ctx context.Context, s *Session, rid enclave.ID, in ExecInput, resp *api.ExecResponse) (*Result, error) {
	if resp.SessionID != s.ID.String() || resp.RequestID != rid.String() {
		return nil, fmt.Errorf("verify result: answer is for session %s request %s, sent %s %s", resp.SessionID, resp.RequestID, s.ID, rid)
	}
	sealed, err1 := hex.DecodeString(resp.EncryptedResult)
	commitment, err2 := hex.DecodeString(resp.ResultCommitment)
	sig, err3 := hex.DecodeString(resp.Signature)
	identity, err4 := hex.DecodeString(resp.IdentityPubkey)
	if err := errors.Join(err1, err2, err3, err4); err != nil || len(commitment) != 32 {
		return nil, fmt.Errorf("verify result: malformed response fields")
	}
	if hex.EncodeToString(identity) != hex.EncodeToString(s.IdentityPub) {
		return nil, fmt.Errorf("verify result: signed by another identity than the attested session's")
	}
	pt, err := seal.Open(s.key, []byte(enclave.InfoResult), enclave.MessageAAD(s.ID, rid), sealed)
	if err != nil {
		return nil, fmt.Errorf("verify result: %w", err)
	}
	var p enclave.ResultPayload
	if err := json.Unmarshal(pt, &p); err != nil {
		return nil, fmt.Errorf("verify result: decode sealed result: %w", err)
	}
	if len(p.Salt) != 32 || len(p.ModuleHash) != 32 {
		return nil, fmt.Errorf("verify result: sealed result has a malformed salt or module hash")
	}
	r := &Result{Output: p.Output, ExitCode: p.ExitCode, Fuel: p.Fuel, Stderr: p.Stderr,
		SessionID: s.ID, RequestID: rid, Signature: sig, Session: s, Payment: resp.Payment}
	copy(r.ModuleHash[:], p.ModuleHash)
	copy(r.Salt[:], p.Salt)
	copy(r.Commitment[:], commitment)
	if in.Wasm != nil && r.ModuleHash != sha256.Sum256(in.Wasm) {
		return nil, fmt.Errorf("verify result: node ran module %x, sent %x", r.ModuleHash, sha256.Sum256(in.Wasm))
	}
	if in.Script != "" && r.ModuleHash != sha256.Sum256([]byte(in.Script)) {
		return nil, fmt.Errorf("verify result: node ran script %x, sent %x", r.ModuleHash, sha256.Sum256([]byte(in.Script)))
	}
	if in.Module != ([32]byte{}) && r.ModuleHash != in.Module {
		return nil, fmt.Errorf("verify result: node ran module %x, the agent's card advertises %x: %w", r.ModuleHash, in.Module, ErrWrongModule)
	}
	t := enclave.Transcript{SessionID: s.ID, RequestID: rid, ModuleHash: r.ModuleHash, Args: in.Args, Stdin: in.Stdin,
		Output: r.Output, ExitCode: r.ExitCode, Fuel: r.Fuel, Salt: r.Salt}
	if resp.Payment != nil {
		t.Payment = enclave.PaymentRef{Network: resp.Payment.Network, Payer: resp.Payment.Payer, Nonce: resp.Payment.Nonce}
	}
	if t.Commitment() != r.Commitment {
		return nil, fmt.Errorf("verify result: %w", enclave.ErrCommitmentMismatch)
	}
	if err := enclave.VerifyCommitmentSignature(s.IdentityPub, r.Commitment, sig); err != nil {
		return nil, fmt.Errorf("verify result: %w", err)
	}
	if resp.ResultQuote != "" {
		q, err := hex.DecodeString(resp.ResultQuote)
		if err != nil {
			return nil, fmt.Errorf("verify result: result_quote is not hex")
		}
		ev := attest.Evidence{Platform: s.Platform, Quote: q}
		if _, err := c.cfg.Verifiers.Verify(ctx, ev, attest.ResultReportData(r.Commitment[:]), c.cfg.Policy); err != nil {
			return nil, fmt.Errorf("verify result evidence: %w", err)
		}
		r.ResultEvidence = &ev
	} else if in.AttestResult {
		return nil, fmt.Errorf("verify result: asked for result evidence, node sent none")
	}
	return r, nil
}
