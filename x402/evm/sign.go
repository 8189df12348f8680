package evm

import (
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/agentnet/agentnode/x402"
)

// ValidAfterSkew is how far before now a signed authorization becomes
// valid, as both official SDKs do: it absorbs clock skew between the payer
// and the chain (tokens require block.timestamp > validAfter).
const ValidAfterSkew = 600 * time.Second

// MinValidity is the shortest validity Sign gives an authorization, even
// when maxTimeoutSeconds is smaller: verifiers require validBefore to be at
// least a few seconds ahead, and settlement takes a block or two.
const MinValidity = 60 * time.Second

// SignOption adjusts Sign.
type SignOption func(*signOptions)

type signOptions struct {
	now         time.Time
	resource    *x402.ResourceInfo
	nonce       *[32]byte
	validAfter  *time.Time
	validBefore *time.Time
}

// WithTime signs as of t instead of the current time.
func WithTime(t time.Time) SignOption { return func(o *signOptions) { o.now = t } }

// WithResource sets the optional resource of the payload.
func WithResource(r x402.ResourceInfo) SignOption { return func(o *signOptions) { o.resource = &r } }

// WithNonce uses n instead of 32 random bytes; for tests and replays.
func WithNonce(n [32]byte) SignOption { return func(o *signOptions) { o.nonce = &n } }

// WithValidity sets the authorization's window explicitly.
func WithValidity(after, before time.Time) SignOption {
	return func(o *signOptions) { o.validAfter, o.validBefore = &after, &before }
}

// Sign makes a v2 PaymentPayload paying req with key: an EIP-3009
// authorization from key's address to req.PayTo for exactly req.Amount,
// valid from now-10min to now+max(maxTimeoutSeconds, 60s), with a random
// nonce, signed under the domain of req.Extra (name, version), the chain of
// req.Network and the token req.Asset. Accepted echoes req verbatim.
func Sign(key *ecdsa.PrivateKey, req x402.PaymentRequirements, opts ...SignOption) (x402.PaymentPayload, error) {
	o := signOptions{now: time.Now()}
	for _, opt := range opts {
		opt(&o)
	}
	if req.Scheme != x402.SchemeExact {
		return x402.PaymentPayload{}, fmt.Errorf("sign payment: scheme %q: %w", short(req.Scheme), ErrMalformed)
	}
	domain, err := DomainOf(req)
	if err != nil {
		return x402.PaymentPayload{}, fmt.Errorf("sign payment: %w", err)
	}
	to, err := parseAddress(req.PayTo)
	if err != nil {
		return x402.PaymentPayload{}, fmt.Errorf("sign payment: payTo: %w", err)
	}
	value, err := parseUint256(req.Amount)
	if err != nil {
		return x402.PaymentPayload{}, fmt.Errorf("sign payment: amount: %w", err)
	}
	validAfter := o.now.Add(-ValidAfterSkew)
	validity := max(time.Duration(req.MaxTimeoutSeconds)*time.Second, MinValidity)
	validBefore := o.now.Add(validity)
	if o.validAfter != nil {
		validAfter, validBefore = *o.validAfter, *o.validBefore
	}
	auth := Authorization{
		From:        crypto.PubkeyToAddress(key.PublicKey),
		To:          to,
		Value:       value,
		ValidAfter:  unixTime(validAfter),
		ValidBefore: unixTime(validBefore),
	}
	if o.nonce != nil {
		auth.Nonce = *o.nonce
	} else if _, err := rand.Read(auth.Nonce[:]); err != nil {
		return x402.PaymentPayload{}, fmt.Errorf("sign payment: nonce: %w", err)
	}
	sig, err := SignAuthorization(key, domain, auth)
	if err != nil {
		return x402.PaymentPayload{}, fmt.Errorf("sign payment: %w", err)
	}
	raw, err := x402.NewExactEVMPayload(x402.ExactEVMPayload{Signature: hexutil.Encode(sig), Authorization: auth.Wire()})
	if err != nil {
		return x402.PaymentPayload{}, fmt.Errorf("sign payment: %w", err)
	}
	return x402.PaymentPayload{X402Version: x402.Version, Resource: o.resource, Accepted: req, Payload: raw}, nil
}

// SignAuthorization returns the 65-byte r||s||v signature (v = 27 or 28)
// of auth under domain.
func SignAuthorization(key *ecdsa.PrivateKey, domain Domain, auth Authorization) ([]byte, error) {
	h := auth.Digest(domain)
	sig, err := crypto.Sign(h[:], key)
	if err != nil {
		return nil, fmt.Errorf("sign authorization: %w", err)
	}
	sig[64] += 27
	return sig, nil
}

// DomainOf returns the EIP-712 domain that requirements name: extra.name
// and extra.version, the chain id of the eip155 network, and the asset.
func DomainOf(req x402.PaymentRequirements) (Domain, error) {
	name, version := req.ExtraString("name"), req.ExtraString("version")
	if name == "" || version == "" {
		return Domain{}, invalid(x402.ReasonExactEVMMissingDomain, "requirements lack extra.name or extra.version")
	}
	chainID, err := req.Network.ChainID()
	if err != nil {
		return Domain{}, &Error{Reason: x402.ReasonExactEVMNetworkConfig, Err: err}
	}
	asset, err := parseAddress(req.Asset)
	if err != nil {
		return Domain{}, &Error{Reason: x402.ReasonInvalidPaymentRequirements, Message: "asset", Err: err}
	}
	return Domain{Name: name, Version: version, ChainID: chainID, VerifyingContract: asset}, nil
}

func unixTime(t time.Time) *uint256.Int {
	s := t.Unix()
	if s < 0 {
		s = 0
	}
	return uint256.NewInt(uint64(s))
}

// addressOf is a convenience for callers holding a key.
func addressOf(key *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(key.PublicKey) }
