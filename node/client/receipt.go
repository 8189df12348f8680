package client

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/x402"
)

// Receipt is a result in a form that can be saved and checked later by
// anyone, offline: it carries the inputs, the output, the salt that opens
// the commitment, the signature, and the evidence with everything its
// binding covers. `agentnode exec --json` prints one.
type Receipt struct {
	Output       string `json:"output"`
	OutputBase64 []byte `json:"output_base64"`
	ExitCode     uint32 `json:"exit_code"`
	Fuel         uint64 `json:"fuel"`
	Commitment   string `json:"commitment"`
	Signature    string `json:"signature"`
	SessionID    string `json:"session_id"`
	RequestID    string `json:"request_id"`
	Platform     string `json:"platform"`
	// Verified is true when the client checked everything below.
	Verified bool `json:"verified"`
	// Measurement is "pinned" when the policy pinned measurements, else
	// "unpinned": the evidence proved genuine hardware, not which code.
	Measurement    string           `json:"measurement"`
	IdentityPubkey string           `json:"identity_pubkey"`
	PeerID         string           `json:"peer_id"`
	ModuleSHA256   string           `json:"module_sha256"`
	Agent          string           `json:"agent,omitempty"`
	Salt           string           `json:"salt"`
	Args           []string         `json:"args"`
	Stdin          []byte           `json:"stdin_base64,omitempty"`
	Session        SessionEvidence  `json:"session"`
	Claims         *attest.Claims   `json:"claims,omitempty"`
	ResultQuote    string           `json:"result_quote,omitempty"`
	Payment        *api.Payment     `json:"payment,omitempty"`
	Stderr         string           `json:"stderr,omitempty"`
	ResultEvidence *attest.Evidence `json:"-"`

	// PaymentRequirements are the terms the client paid (token, recipient,
	// amount): what `agentnode receipt verify --rpc` checks the settlement
	// transaction against. Not covered by the commitment.
	PaymentRequirements *x402.PaymentRequirements `json:"payment_requirements,omitempty"`
}

// SessionEvidence is the session's evidence and the values it binds.
type SessionEvidence struct {
	Suite         string `json:"suite"`
	SessionPubkey string `json:"session_pubkey"`
	ClientPubkey  string `json:"client_pubkey"`
	Nonce         string `json:"nonce"`
	Quote         string `json:"quote"`
}

// Receipt returns r as a receipt for in.
func (r *Result) Receipt(in ExecInput, policy *attest.Policy) Receipt {
	s := r.Session
	rc := Receipt{
		OutputBase64:   r.Output,
		ExitCode:       r.ExitCode,
		Fuel:           r.Fuel,
		Commitment:     hex.EncodeToString(r.Commitment[:]),
		Signature:      hex.EncodeToString(r.Signature),
		SessionID:      r.SessionID.String(),
		RequestID:      r.RequestID.String(),
		Platform:       string(s.Platform),
		Verified:       true,
		Measurement:    "unpinned",
		IdentityPubkey: hex.EncodeToString(s.IdentityPub),
		PeerID:         s.PeerID,
		ModuleSHA256:   hex.EncodeToString(r.ModuleHash[:]),
		Agent:          in.Agent,
		Salt:           hex.EncodeToString(r.Salt[:]),
		Args:           in.Args,
		Stdin:          in.Stdin,
		Session: SessionEvidence{
			Suite:         string(s.Suite),
			SessionPubkey: hex.EncodeToString(s.SessionPub),
			ClientPubkey:  hex.EncodeToString(s.ClientPub()),
			Nonce:         hex.EncodeToString(s.Nonce),
			Quote:         hex.EncodeToString(s.Evidence.Quote),
		},
		Claims:              s.Claims,
		Payment:             r.Payment,
		PaymentRequirements: r.PaymentRequirements,
	}
	if utf8.Valid(r.Output) {
		rc.Output = string(r.Output)
	}
	if utf8.Valid(r.Stderr) {
		rc.Stderr = string(r.Stderr)
	}
	if r.ResultEvidence != nil {
		rc.ResultQuote = hex.EncodeToString(r.ResultEvidence.Quote)
	}
	if policy != nil && policy.Pinned(s.Platform) {
		rc.Measurement = "pinned"
	}
	if rc.Args == nil {
		rc.Args = []string{}
	}
	return rc
}

// VerifyReceipt checks a saved receipt without the node: the session
// evidence against policy and its binding, the commitment opened with the
// receipt's salt, and the identity key's signature. It returns the claims
// of the session evidence.
func VerifyReceipt(ctx context.Context, rc *Receipt, vs attest.Verifiers, policy *attest.Policy) (*attest.Claims, error) {
	field := func(name, v string, n int) ([]byte, error) {
		b, err := hex.DecodeString(v)
		if err != nil || (n > 0 && len(b) != n) {
			return nil, fmt.Errorf("receipt field %s: malformed", name)
		}
		return b, nil
	}
	var errs []error
	get := func(name, v string, n int) []byte {
		b, err := field(name, v, n)
		errs = append(errs, err)
		return b
	}
	identity := get("identity_pubkey", rc.IdentityPubkey, 0)
	sessionPub := get("session.session_pubkey", rc.Session.SessionPubkey, 0)
	clientPub := get("session.client_pubkey", rc.Session.ClientPubkey, 0)
	nonce := get("session.nonce", rc.Session.Nonce, 0)
	quote := get("session.quote", rc.Session.Quote, 0)
	commitment := get("commitment", rc.Commitment, 32)
	sig := get("signature", rc.Signature, 0)
	module := get("module_sha256", rc.ModuleSHA256, 32)
	salt := get("salt", rc.Salt, 32)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sid, err := enclave.ParseID(rc.SessionID)
	if err != nil {
		return nil, fmt.Errorf("receipt field session_id: %w", err)
	}
	rid, err := enclave.ParseID(rc.RequestID)
	if err != nil {
		return nil, fmt.Errorf("receipt field request_id: %w", err)
	}
	ev := attest.Evidence{Platform: attest.Platform(rc.Platform), Quote: quote}
	claims, err := vs.Verify(ctx, ev, attest.SessionReportData(identity, sessionPub, clientPub, nonce), policy)
	if err != nil {
		return nil, fmt.Errorf("verify session evidence: %w", err)
	}
	if id, err := enclave.PeerIDFromPublicKey(identity); err != nil || id != rc.PeerID {
		return nil, fmt.Errorf("receipt peer id %s does not belong to its identity key", rc.PeerID)
	}
	t := enclave.Transcript{SessionID: sid, RequestID: rid, Args: rc.Args, Stdin: rc.Stdin,
		Output: rc.OutputBase64, ExitCode: rc.ExitCode, Fuel: rc.Fuel}
	copy(t.ModuleHash[:], module)
	copy(t.Salt[:], salt)
	if rc.Payment != nil {
		t.Payment = enclave.PaymentRef{Network: rc.Payment.Network, Payer: rc.Payment.Payer, Nonce: rc.Payment.Nonce}
	}
	var c [32]byte
	copy(c[:], commitment)
	if t.Commitment() != c {
		return nil, fmt.Errorf("verify receipt: %w", enclave.ErrCommitmentMismatch)
	}
	if err := enclave.VerifyCommitmentSignature(identity, c, sig); err != nil {
		return nil, fmt.Errorf("verify receipt: %w", err)
	}
	if rc.ResultQuote != "" {
		q, err := field("result_quote", rc.ResultQuote, 0)
		if err != nil {
			return nil, err
		}
		if _, err := vs.Verify(ctx, attest.Evidence{Platform: ev.Platform, Quote: q}, attest.ResultReportData(c[:]), policy); err != nil {
			return nil, fmt.Errorf("verify result evidence: %w", err)
		}
	}
	return claims, nil
}
