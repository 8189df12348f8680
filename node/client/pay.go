package client

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/policy"
)

// Payer pays for executions on nodes that ask for x402 payment. When a
// node answers 402, the client picks a requirement the payer may pay (the
// exact scheme, a token it knows, an amount within MaxPrice and the
// policy), signs an EIP-3009 authorization with Key, and sends the same
// sealed request (same request id) again with PAYMENT-SIGNATURE. The
// verified result carries the settlement, which its commitment binds.
type Payer struct {
	// Key signs the payments: the EIP-3009 "from" address holds the
	// tokens. It needs no ETH; the node's facilitator pays the gas.
	Key *ecdsa.PrivateKey
	// MaxPrice caps one payment, in the token's atomic units. Nil means
	// no cap, which only a Policy may decide.
	MaxPrice *big.Int
	// Assets are the tokens, beyond the defaults, this payer pays in. The
	// defaults are USDC on Base and Base Sepolia, and any token of a local
	// development chain (chain id 1337 or 31337), where tokens have no
	// value: an amount cap means nothing for a token the payer did not
	// choose.
	Assets []evm.Asset
	// Policy, when set, decides every payment and keeps the spending
	// (x402/policy): a payment it refuses is not made.
	Policy *policy.Payer
	// Origin says who causes the payments, for the policy. Default: a user.
	Origin policy.Origin
}

// Address returns the payer's address.
func (p *Payer) Address() common.Address { return crypto.PubkeyToAddress(p.Key.PublicKey) }

func (p *Payer) validate() error {
	switch {
	case p.Key == nil:
		return errors.New("client config: payer without a key")
	case p.MaxPrice == nil && p.Policy == nil:
		return errors.New("client config: payer needs a max price or a policy")
	case p.MaxPrice != nil && p.MaxPrice.Sign() < 0:
		return errors.New("client config: negative max price")
	}
	return nil
}

// devChains are chain ids of local development chains (go-ethereum's dev
// mode and agentnode's embedded chain; anvil and hardhat): their tokens
// are worth nothing, so any of them may be paid in.
var devChains = map[uint64]bool{1337: true, 31337: true}

// knows reports whether the payer pays in r's token.
func (p *Payer) knows(r x402.PaymentRequirements) bool {
	id, err := r.Network.ChainID()
	if err != nil {
		return false
	}
	if devChains[id] {
		return true
	}
	for _, a := range append([]evm.Asset{evm.USDCBase, evm.USDCBaseSepolia}, p.Assets...) {
		if a.Network == r.Network && strings.EqualFold(a.Address.Hex(), r.Asset) {
			return true
		}
	}
	return false
}

// choose returns the first requirement of pr the payer can and may pay,
// or an error saying why none qualifies.
func (p *Payer) choose(pr *x402.PaymentRequired) (x402.PaymentRequirements, *big.Int, error) {
	var why []string
	for _, r := range pr.Accepts {
		amount, ok := new(big.Int).SetString(r.Amount, 10)
		switch {
		case r.Scheme != x402.SchemeExact:
			why = append(why, fmt.Sprintf("scheme %q is not supported", r.Scheme))
		case !r.Network.IsEVM():
			why = append(why, fmt.Sprintf("network %s is not an EVM chain", r.Network))
		case !ok || amount.Sign() < 0:
			why = append(why, fmt.Sprintf("amount %q is not a decimal integer", r.Amount))
		case !p.knows(r):
			why = append(why, fmt.Sprintf("token %s on %s is not one this payer pays in", r.Asset, r.Network))
		case r.ExtraString("name") == "" || r.ExtraString("version") == "":
			why = append(why, fmt.Sprintf("token %s: no EIP-712 domain (extra.name, extra.version) to sign under", r.Asset))
		case p.MaxPrice != nil && amount.Cmp(p.MaxPrice) > 0:
			why = append(why, fmt.Sprintf("price %s is over the max price %s", amount, p.MaxPrice))
		default:
			return r, amount, nil
		}
	}
	if len(why) == 0 {
		why = append(why, "the node offers no way to pay")
	}
	return x402.PaymentRequirements{}, nil, fmt.Errorf("pay: %s: %w", strings.Join(why, "; "), ErrCannotPay)
}

// target describes the node being paid to a payer policy: what its
// verified session proved, and the agent called.
func target(s *Session, in ExecInput) policy.Target {
	t := policy.Target{Peer: s.PeerID, Agent: in.Agent, Tags: in.Tags, Platform: string(s.Platform)}
	if s.Claims != nil && len(s.Claims.Measurements) > 0 {
		t.Measurements = make(map[string]string, len(s.Claims.Measurements))
		for k, v := range s.Claims.Measurements {
			t.Measurements[k] = v.String()
		}
	}
	return t
}

// payment is a payment the client attached to a request.
type payment struct {
	req    x402.PaymentRequirements
	amount *big.Int
	from   common.Address
	nonce  string
	hold   *policy.Hold
}

// PaymentError is a node's 402 answer that the client could not or did
// not satisfy: no payer, no requirement the payer may pay, a payment the
// node refused, or a settlement that failed (no result is released then).
type PaymentError struct {
	// Required is the node's payment terms.
	Required *x402.PaymentRequired
	// Paid is true when the client attached a payment the node refused.
	Paid bool
	// Settlement is the node's PAYMENT-RESPONSE, when it tried to settle.
	Settlement *x402.SettleResponse
	// Err says why the client did not pay.
	Err error
	// API is the node's answer.
	API *APIError
}

func (e *PaymentError) Error() string {
	terms := "payment required"
	if e.Required != nil && len(e.Required.Accepts) > 0 {
		r := e.Required.Accepts[0]
		terms = fmt.Sprintf("payment required: %s atomic units of token %s on %s, paid to %s", r.Amount, r.Asset, r.Network, r.PayTo)
	}
	switch {
	case e.Settlement != nil && !e.Settlement.Success:
		msg := "settlement failed: " + e.Settlement.ErrorReason
		if e.Settlement.Transaction != "" {
			msg += " (transaction " + e.Settlement.Transaction + ")"
		}
		return msg + "; the node released no result"
	case e.Paid:
		reason := e.API.Message
		if e.Required != nil && e.Required.Error != "" {
			reason = e.Required.Error
		}
		return "node refused the payment: " + reason
	case e.Err != nil:
		return terms + "; " + e.Err.Error()
	}
	return terms
}

// Unwrap returns why the client did not pay, and the node's answer.
func (e *PaymentError) Unwrap() []error {
	var out []error
	if e.Err != nil {
		out = append(out, e.Err)
	}
	if e.API != nil {
		out = append(out, e.API)
	}
	return out
}

// exchange sends a sealed request and pays for it as the client's payer
// may: up front, with the terms the node asked the last time for this kind
// of request (saving the 402 round trip), or on a 402 answer, after which
// it sends the same sealed request (same request id) again with the
// payment. A payment the node refused up front (its terms changed) is
// followed by one payment of its new terms. Without a payer, or for a
// request that already carries a payment header, a 402 is a
// *PaymentError.
func (c *Client) exchange(ctx context.Context, s *Session, in ExecInput, req *api.ExecRequest, send sendFunc) (*api.ExecResponse, http.Header, *payment, error) {
	payer := c.cfg.Payer
	if payer == nil || hasPayment(in.Header) {
		resp, hdr, err := send(ctx, in.Header, req)
		if apiErr := paymentRequired(err); apiErr != nil {
			perr := &PaymentError{Required: apiErr.PaymentRequired, API: apiErr, Settlement: settlementOf(apiErr.Header), Paid: payer != nil || hasPayment(in.Header)}
			if !perr.Paid {
				perr.Err = ErrNoPayer
			}
			return nil, nil, nil, perr
		}
		return resp, hdr, nil, err
	}
	key := termsKey(in)
	if pr := c.knownTerms(key); pr != nil {
		if p, hdr, err := c.sign(ctx, s, in, pr); err == nil {
			resp, rh, err := send(ctx, hdr, req)
			apiErr := paymentRequired(err)
			if apiErr == nil || settlementOf(apiErr.Header) != nil {
				return c.settled(ctx, p, resp, rh, err)
			}
			// Refused before anything ran: the terms changed. Pay the new ones.
			c.endHold(ctx, p, false)
			c.forgetTerms(key)
			return c.payAnswer(ctx, s, in, req, send, key, apiErr)
		}
	}
	resp, hdr, err := send(ctx, in.Header, req)
	if apiErr := paymentRequired(err); apiErr != nil {
		return c.payAnswer(ctx, s, in, req, send, key, apiErr)
	}
	return resp, hdr, nil, err
}

// payAnswer pays the terms of a 402 answer and sends the request again.
func (c *Client) payAnswer(ctx context.Context, s *Session, in ExecInput, req *api.ExecRequest, send sendFunc, key string, apiErr *APIError) (*api.ExecResponse, http.Header, *payment, error) {
	perr := &PaymentError{Required: apiErr.PaymentRequired, API: apiErr, Settlement: settlementOf(apiErr.Header)}
	if perr.Required == nil {
		perr.Err = fmt.Errorf("pay: the node's 402 answer carries no readable payment terms: %w", ErrCannotPay)
		return nil, nil, nil, perr
	}
	p, hdr, err := c.sign(ctx, s, in, perr.Required)
	if err != nil {
		perr.Err = err
		return nil, nil, nil, perr
	}
	resp, rh, err := send(ctx, hdr, req)
	resp, rh, p, err = c.settled(ctx, p, resp, rh, err)
	if err == nil && p != nil {
		c.rememberTerms(key, perr.Required)
	}
	return resp, rh, p, err
}

// settled ends a paid send: the policy hold is committed when the node
// settled (its PAYMENT-RESPONSE says so, also on an error answer such as a
// trap after the work ran), rolled back when it certainly did not, and kept
// (counting as spent) when no answer came. A 402 becomes a *PaymentError.
// A result the node ran for free leaves the payment unused.
func (c *Client) settled(ctx context.Context, p *payment, resp *api.ExecResponse, hdr http.Header, err error) (*api.ExecResponse, http.Header, *payment, error) {
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr):
		st := settlementOf(apiErr.Header)
		c.endHold(ctx, p, st != nil && st.Success)
		if apiErr.Status == http.StatusPaymentRequired {
			return nil, nil, nil, &PaymentError{Required: apiErr.PaymentRequired, Paid: true, Settlement: st, API: apiErr}
		}
		return nil, nil, nil, err
	case err != nil:
		return nil, nil, nil, err
	case resp.Payment == nil:
		c.endHold(ctx, p, false)
		return resp, hdr, nil, nil
	}
	c.endHold(ctx, p, true)
	return resp, hdr, p, nil
}

// sign picks the requirement of pr to pay, has the policy authorize it,
// and returns the payment and in's headers with PAYMENT-SIGNATURE added.
func (c *Client) sign(ctx context.Context, s *Session, in ExecInput, pr *x402.PaymentRequired) (*payment, http.Header, error) {
	p, err := c.preparePayment(ctx, s, in, pr)
	if err != nil {
		return nil, nil, err
	}
	payload, err := evm.Sign(c.cfg.Payer.Key, p.req, evm.WithResource(pr.Resource))
	if err != nil {
		c.endHold(ctx, p, false)
		return nil, nil, fmt.Errorf("sign payment: %w", err)
	}
	if ev, err := payload.ExactEVM(); err == nil {
		p.nonce = ev.Authorization.Nonce
	}
	sig, err := x402.EncodePaymentPayload(payload)
	if err != nil {
		c.endHold(ctx, p, false)
		return nil, nil, fmt.Errorf("encode payment: %w", err)
	}
	hdr := in.Header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set(x402.HeaderPaymentSignature, sig)
	return p, hdr, nil
}

// paymentRequired returns err's *APIError when it is a 402 answer.
func paymentRequired(err error) *APIError {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusPaymentRequired {
		return apiErr
	}
	return nil
}

// maxKnownTerms bounds the terms a client remembers.
const maxKnownTerms = 256

// termsKey names the kind of request whose price a node's terms were for:
// an agent's calls, or any module or script (priced alike unless a payee
// policy says otherwise, in which case the node refuses and the client
// pays the new terms).
func termsKey(in ExecInput) string {
	switch {
	case in.Agent != "":
		return "agent/" + in.Agent
	case in.Script != "":
		return "script"
	}
	return "module"
}

func (c *Client) knownTerms(key string) *x402.PaymentRequired {
	c.termsMu.Lock()
	defer c.termsMu.Unlock()
	return c.terms[key]
}

func (c *Client) rememberTerms(key string, pr *x402.PaymentRequired) {
	c.termsMu.Lock()
	defer c.termsMu.Unlock()
	if c.terms == nil || len(c.terms) >= maxKnownTerms {
		c.terms = map[string]*x402.PaymentRequired{}
	}
	c.terms[key] = pr
}

func (c *Client) forgetTerms(key string) {
	c.termsMu.Lock()
	defer c.termsMu.Unlock()
	delete(c.terms, key)
}

// preparePayment picks the requirement to pay and, with a policy,
// authorizes it (reserving its amount in the spending counters).
func (c *Client) preparePayment(ctx context.Context, s *Session, in ExecInput, pr *x402.PaymentRequired) (*payment, error) {
	payer := c.cfg.Payer
	r, amount, err := payer.choose(pr)
	if err != nil {
		return nil, err
	}
	if in.MaxPrice != nil && amount.Cmp(in.MaxPrice) > 0 {
		return nil, fmt.Errorf("pay: price %s is over this call's max price %s: %w", amount, in.MaxPrice, ErrCannotPay)
	}
	p := &payment{req: r, amount: amount, from: payer.Address()}
	if payer.Policy == nil {
		return p, nil
	}
	origin := payer.Origin
	if in.Origin != nil {
		origin = *in.Origin
	}
	if origin.Kind == "" {
		origin.Kind = policy.OriginUser
	}
	hold, d, err := payer.Policy.Authorize(ctx, policy.Payment{
		Requirements: policy.Requirements{Scheme: r.Scheme, Network: string(r.Network), Asset: r.Asset, Amount: amount,
			PayTo: r.PayTo, Resource: pr.Resource.URL, Description: pr.Resource.Description, MaxTimeoutSeconds: r.MaxTimeoutSeconds},
		Target: target(s, in),
		Origin: origin,
	})
	if err != nil {
		return nil, fmt.Errorf("pay: payer policy: %w", err)
	}
	if !d.Allow {
		return nil, fmt.Errorf("pay: payer policy %s refused %s: %s: %w", d.Policy, amount, d.Reason, ErrCannotPay)
	}
	p.hold = &hold
	return p, nil
}

// endHold commits a policy hold when the payment was made, and rolls it
// back when it certainly was not.
func (c *Client) endHold(ctx context.Context, p *payment, paid bool) {
	if p.hold == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if paid {
		_ = c.cfg.Payer.Policy.Commit(ctx, *p.hold) // on failure the hold keeps counting as spent
	} else {
		_ = c.cfg.Payer.Policy.Rollback(ctx, *p.hold)
	}
	p.hold = nil
}

// check verifies that a paid result names the payment the client made:
// the commitment binds the node's payment reference, which must be this
// client's authorization, settled for the amount signed.
func (p *payment) check(r *Result) error {
	pm := r.Payment
	switch {
	case pm == nil:
		return fmt.Errorf("verify result: paid, but the result names no payment")
	case !strings.EqualFold(pm.Payer, p.from.Hex()) || !strings.EqualFold(pm.Nonce, p.nonce) || pm.Network != string(p.req.Network):
		return fmt.Errorf("verify result: the result is bound to payment %s/%s/%s, not the one made (%s/%s/%s)",
			pm.Network, pm.Payer, pm.Nonce, p.req.Network, p.from.Hex(), p.nonce)
	case pm.Amount != p.amount.String():
		return fmt.Errorf("verify result: the node reports %s paid, the authorization was for %s", pm.Amount, p.amount)
	case pm.Transaction == "":
		return fmt.Errorf("verify result: paid, but the node reports no settlement transaction")
	}
	req := p.req
	r.PaymentRequirements = &req
	return nil
}

func hasPayment(h http.Header) bool {
	return h.Get(x402.HeaderPaymentSignature) != "" || h.Get(x402.HeaderPaymentV1) != ""
}

// settlementOf decodes the PAYMENT-RESPONSE (or X-PAYMENT-RESPONSE) header,
// nil when there is none or it does not decode.
func settlementOf(h http.Header) *x402.SettleResponse {
	s := h.Get(x402.HeaderPaymentResponse)
	if s == "" {
		s = h.Get(x402.HeaderPaymentResponseV1)
	}
	if s == "" {
		return nil
	}
	r, err := x402.DecodeSettleResponse(s)
	if err != nil {
		return nil
	}
	return &r
}

// ReplyError is the error of a bridge's non-2xx answer (status, headers and
// body), whether it came over HTTP, a p2p stream or from the node's own
// bridge in process: on 402 a *APIError that carries the payment
// requirements (from PAYMENT-REQUIRED or the v1 body), otherwise the
// answer's api.Error, or code http_<status> with the body as its message
// when the body is not one.
func ReplyError(status int, h http.Header, body []byte) *APIError {
	if status == http.StatusPaymentRequired {
		return paymentAPIError(status, h, body)
	}
	var e api.Error
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		e.Error = api.ErrorDetail{Code: fmt.Sprintf("http_%d", status), Message: strings.TrimSpace(string(body))}
	}
	return &APIError{Status: status, Code: e.Error.Code, Message: e.Error.Message, Header: h}
}

// paymentAPIError is the *APIError of a 402 answer: the terms come from
// PAYMENT-REQUIRED (v2) or, failing that, a v1 body, and the message says
// what the node wants.
func paymentAPIError(status int, h http.Header, body []byte) *APIError {
	e := &APIError{Status: status, Code: api.CodePaymentRequired, Message: "payment required", Header: h}
	if s := h.Get(x402.HeaderPaymentRequired); s != "" {
		if pr, err := x402.DecodePaymentRequired(s); err == nil {
			e.PaymentRequired = &pr
		}
	}
	if e.PaymentRequired == nil {
		if v1, err := x402.DecodePaymentRequiredV1(body); err == nil {
			pr := x402.PaymentRequired{X402Version: x402.Version, Error: v1.Error}
			for _, r := range v1.Accepts {
				if v2, res, err := r.V2(); err == nil {
					pr.Accepts = append(pr.Accepts, v2)
					pr.Resource = res
				}
			}
			e.PaymentRequired = &pr
		}
	}
	if e.PaymentRequired != nil && e.PaymentRequired.Error != "" {
		e.Message = e.PaymentRequired.Error
	} else {
		var ae api.Error
		if json.Unmarshal(body, &ae) == nil && ae.Error.Code != "" {
			e.Code, e.Message = ae.Error.Code, ae.Error.Message
		}
	}
	return e
}
