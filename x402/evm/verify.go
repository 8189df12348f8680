package evm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/holiman/uint256"

	"github.com/agentnet/agentnode/x402"
)

// MinValidBeforeMargin is how far ahead of now validBefore must be for a
// payment to verify: time to settle before the authorization expires (the
// SDKs use 6 seconds).
const MinValidBeforeMargin = 6 * time.Second

// VerifierConfig configures NewVerifier.
type VerifierConfig struct {
	// ChainID is the chain the verifier accepts payments on. Required.
	ChainID uint64
	// RPC is a client of that chain, for the on-chain checks of Verify.
	// Nil leaves only Check usable.
	RPC *rpc.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// From is the account Verify simulates transferWithAuthorization from
	// (the facilitator's gas key); the zero address works for EIP-3009
	// tokens, which do not restrict the submitter.
	From common.Address
}

// Verifier checks exact-scheme payments the way an x402 facilitator does.
// It is safe for concurrent use.
type Verifier struct {
	chainID uint64
	network x402.Network
	rpc     *rpc.Client
	now     func() time.Time
	abi     abi.ABI
	from    common.Address

	// domains caches each token's on-chain name() and version(), which
	// never change, so verification costs two eth_calls, batched.
	domains sync.Map // common.Address -> tokenDomain

	// signers remembers the signatures recoverCheck accepted: Settle
	// checks again the payment Verify just checked, and recovering the
	// signer is the dearest of the local checks. Only accepted (digest,
	// signature, signer) triples go in, so a hit is what recovery would
	// answer.
	signers *lru.Cache[sigKey, common.Address]
}

// signerCacheSize bounds Verifier.signers: enough for the payments
// between their verification and their settlement.
const signerCacheSize = 1024

type sigKey struct {
	digest common.Hash
	sig    [65]byte
}

type tokenDomain struct{ name, version string }

// NewVerifier returns a Verifier for the chain cfg names.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.ChainID == 0 {
		return nil, errors.New("new verifier: no chain id")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	signers, _ := lru.New[sigKey, common.Address](signerCacheSize)
	return &Verifier{chainID: cfg.ChainID, network: x402.EIP155(cfg.ChainID), rpc: cfg.RPC, now: cfg.Now, abi: tokenABI(), from: cfg.From, signers: signers}, nil
}

// Network returns the CAIP-2 id of the verifier's chain.
func (v *Verifier) Network() x402.Network { return v.network }

// Checked is a payment that passed Check: the parsed authorization, its
// signature (v = 27 or 28, low s) and the domain it was signed under.
type Checked struct {
	Authorization
	Signature [65]byte
	Domain    Domain
}

// Payer returns the authorization's signer.
func (c Checked) Payer() common.Address { return c.From }

// Check runs the checks that need no chain, in the order of the Go
// reference facilitator: scheme, network, payload, chain, recipient, exact
// amount, time window, EIP-712 domain, signature recovery (low s). A
// failure is an *Error carrying the SDK's reason.
func (v *Verifier) Check(p x402.PaymentPayload, req x402.PaymentRequirements) (Checked, error) {
	c, err := v.parse(p, req)
	if err != nil {
		return c, err
	}
	if err := v.checkTime(c); err != nil {
		return c, err
	}
	return c, nil
}

// parse runs every local check but the time window, which Settle must be
// able to skip when it looks for an earlier settlement of the same
// authorization.
func (v *Verifier) parse(p x402.PaymentPayload, req x402.PaymentRequirements) (Checked, error) {
	var c Checked
	if req.Scheme != x402.SchemeExact || p.Accepted.Scheme != x402.SchemeExact {
		return c, invalid(x402.ReasonExactEVMScheme, "scheme %q, required %q", short(p.Accepted.Scheme), short(req.Scheme))
	}
	if p.Accepted.Network != req.Network {
		return c, invalid(x402.ReasonExactEVMNetworkMismatch, "payment on %s, required %s", short(string(p.Accepted.Network)), req.Network)
	}
	e, err := p.ExactEVM()
	if err != nil {
		return c, &Error{Reason: x402.ReasonExactEVMPayload, Err: err}
	}
	if e.Signature == "" {
		return c, invalid(x402.ReasonExactEVMMissingSignature, "payload has no signature")
	}
	auth, err := ParseAuthorization(e.Authorization)
	if err != nil {
		return c, &Error{Reason: x402.ReasonExactEVMPayload, Err: err}
	}
	c.Authorization = auth
	payer := auth.From.Hex()
	if req.Network != v.network {
		return c, &Error{Reason: x402.ReasonExactEVMNetworkConfig, Message: fmt.Sprintf("this facilitator settles on %s, not %s", v.network, short(string(req.Network))), Payer: payer}
	}
	payTo, err := parseAddress(req.PayTo)
	if err != nil {
		return c, &Error{Reason: x402.ReasonInvalidPaymentRequirements, Message: "payTo", Err: err, Payer: payer}
	}
	if auth.To != payTo {
		return c, &Error{Reason: x402.ReasonExactEVMRecipientMismatch, Message: fmt.Sprintf("authorization pays %s, required %s", auth.To.Hex(), payTo.Hex()), Payer: payer}
	}
	amount, err := parseUint256(req.Amount)
	if err != nil {
		return c, &Error{Reason: x402.ReasonInvalidPaymentRequirements, Message: "amount", Err: err, Payer: payer}
	}
	if !auth.Value.Eq(amount) {
		return c, &Error{Reason: x402.ReasonExactEVMValueMismatch, Message: fmt.Sprintf("authorization value %s, required %s", auth.Value.Dec(), amount.Dec()), Payer: payer}
	}
	domain, err := DomainOf(req)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Payer = payer
		}
		return c, err
	}
	c.Domain = domain
	sig, err := hexutil.Decode(e.Signature)
	if err != nil || len(sig) != 65 {
		// ERC-1271 and ERC-6492 smart-wallet signatures are not 65 bytes;
		// this facilitator verifies EOA signatures only.
		return c, &Error{Reason: x402.ReasonExactEVMSignatureFormat, Message: "want a 65-byte 0x-hex EOA signature", Payer: payer}
	}
	copy(c.Signature[:], sig)
	if c.Signature[64] < 27 {
		c.Signature[64] += 27 // normalize v in {0,1}
	}
	if err := v.checkSignature(auth.Digest(domain), c.Signature, auth.From); err != nil {
		return c, &Error{Reason: x402.ReasonExactEVMSignature, Message: err.Error(), Payer: payer}
	}
	return c, nil
}

// checkSignature is recoverCheck, answered from v.signers when this very
// signature of this digest was accepted before.
func (v *Verifier) checkSignature(h common.Hash, sig [65]byte, want common.Address) error {
	k := sigKey{digest: h, sig: sig}
	if got, ok := v.signers.Get(k); ok && got == want {
		return nil
	}
	if err := recoverCheck(h, sig, want); err != nil {
		return err
	}
	v.signers.Add(k, want)
	return nil
}

// recoverCheck verifies that sig (v = 27/28) is a low-s signature of h by
// want.
func recoverCheck(h common.Hash, sig [65]byte, want common.Address) error {
	v := sig[64] - 27
	r := new(uint256.Int).SetBytes32(sig[0:32]).ToBig()
	s := new(uint256.Int).SetBytes32(sig[32:64]).ToBig()
	if v > 1 || !crypto.ValidateSignatureValues(v, r, s, true) {
		return errors.New("signature values out of range (v, r, or high s)")
	}
	raw := sig
	raw[64] = v
	pub, err := crypto.Ecrecover(h[:], raw[:])
	if err != nil {
		return fmt.Errorf("recover signer: %w", err)
	}
	var got common.Address
	copy(got[:], crypto.Keccak256(pub[1:])[12:])
	if got != want {
		return fmt.Errorf("signed by %s, not by %s", got.Hex(), want.Hex())
	}
	return nil
}

func (v *Verifier) checkTime(c Checked) error {
	now := v.now().Unix()
	payer := c.From.Hex()
	if !c.ValidBefore.IsUint64() || c.ValidBefore.Uint64() < uint64(now)+uint64(MinValidBeforeMargin/time.Second) {
		return &Error{Reason: x402.ReasonExactEVMValidBefore, Message: fmt.Sprintf("authorization expires at %s, too soon or past", c.ValidBefore.Dec()), Payer: payer}
	}
	if !c.ValidAfter.IsUint64() || int64(c.ValidAfter.Uint64()) > now || c.ValidAfter.Uint64() > 1<<62 {
		return &Error{Reason: x402.ReasonExactEVMValidAfter, Message: fmt.Sprintf("authorization not valid before %s", c.ValidAfter.Dec()), Payer: payer}
	}
	return nil
}

// Verify runs Check, then reads the token through one batch of eth_calls:
// its name() and version() against the signed domain (cached), the
// nonce's authorizationState, and a simulation of
// transferWithAuthorization itself at the head block (which catches what
// only the chain knows, such as its clock); the payer's balanceOf only
// when the simulation fails, to name the reason.
func (v *Verifier) Verify(ctx context.Context, p x402.PaymentPayload, req x402.PaymentRequirements) (Checked, error) {
	c, err := v.Check(p, req)
	if err != nil {
		return c, err
	}
	st, err := v.state(ctx, c)
	if err != nil {
		return c, err
	}
	if err := st.check(c); err != nil {
		return c, err
	}
	return c, nil
}

// tokenState is what Verify reads from the chain.
type tokenState struct {
	used bool
	// balance is the payer's balance, read only when the simulated
	// transfer failed (to tell insufficient_funds from other reverts): a
	// transfer that succeeds had the value to move.
	balance *uint256.Int
	domain  tokenDomain
	simErr  error // the simulated transfer's revert, if any
}

func (st tokenState) check(c Checked) error {
	payer := c.From.Hex()
	switch {
	case st.domain.name != "" && st.domain.name != c.Domain.Name:
		return &Error{Reason: x402.ReasonExactEVMTokenNameMismatch, Message: fmt.Sprintf("token name is %q, signed %q", short(st.domain.name), short(c.Domain.Name)), Payer: payer}
	case st.domain.version != "" && st.domain.version != c.Domain.Version:
		return &Error{Reason: x402.ReasonExactEVMTokenVersionMismatch, Message: fmt.Sprintf("token version is %q, signed %q", short(st.domain.version), short(c.Domain.Version)), Payer: payer}
	case st.used:
		return &Error{Reason: x402.ReasonExactEVMNonceUsed, Message: "authorization nonce already used or canceled", Payer: payer}
	case st.balance != nil && st.balance.Lt(c.Value):
		return &Error{Reason: x402.ReasonExactEVMInsufficientBalance, Message: fmt.Sprintf("balance %s < %s", st.balance.Dec(), c.Value.Dec()), Payer: payer}
	case st.simErr != nil:
		return &Error{Reason: reasonForRevert(st.simErr.Error()), Message: "simulate transferWithAuthorization", Payer: payer, Err: st.simErr}
	}
	return nil
}

// state reads the token in one JSON-RPC batch: the authorization's state,
// the simulated transfer and, the first time, the token's name and
// version. Only when the simulation fails on an unused authorization does
// a second eth_call read the payer's balance, to name the reason.
func (v *Verifier) state(ctx context.Context, c Checked) (tokenState, error) {
	payer := c.From.Hex()
	if v.rpc == nil {
		return tokenState{}, &Error{Reason: x402.ReasonExactEVMCheckNonce, Message: "no chain client configured", Payer: payer}
	}
	token := c.Domain.VerifyingContract
	call := func(data []byte, out *hexutil.Bytes) rpc.BatchElem {
		return rpc.BatchElem{Method: "eth_call", Args: []any{map[string]any{"from": v.from, "to": token, "data": hexutil.Bytes(data)}, "latest"}, Result: out}
	}
	transfer, err := packTransfer(v.abi, c.Authorization, c.Signature)
	if err != nil {
		return tokenState{}, &Error{Reason: x402.ReasonExactEVMPayload, Payer: payer, Err: err}
	}
	var used, sim, name, version hexutil.Bytes
	batch := []rpc.BatchElem{call(packAuthorizationState(c.From, c.Nonce), &used), call(transfer, &sim)}
	cached, haveDomain := v.domains.Load(token)
	if !haveDomain {
		batch = append(batch, call(selName, &name), call(selVersion, &version))
	}
	if err := v.rpc.BatchCallContext(ctx, batch); err != nil {
		return tokenState{}, &Error{Reason: x402.ReasonExactEVMCheckNonce, Payer: payer, Err: fmt.Errorf("read token %s: %w", token.Hex(), err)}
	}
	if batch[0].Error != nil || len(used) == 0 {
		// A token without authorizationState (or no contract at all).
		return tokenState{}, &Error{Reason: x402.ReasonExactEVMEIP3009NotSupported, Message: fmt.Sprintf("token %s has no authorizationState", token.Hex()), Payer: payer, Err: batch[0].Error}
	}
	st := tokenState{simErr: batch[1].Error}
	if st.used, err = decodeBool(used); err != nil {
		return tokenState{}, &Error{Reason: x402.ReasonExactEVMCheckNonce, Payer: payer, Err: err}
	}
	if st.simErr != nil && !st.used {
		var bal hexutil.Bytes
		if err := v.rpc.CallContext(ctx, &bal, "eth_call", map[string]any{"from": v.from, "to": token, "data": hexutil.Bytes(packBalanceOf(c.From))}, "latest"); err != nil {
			return tokenState{}, &Error{Reason: x402.ReasonExactEVMGetBalance, Payer: payer, Err: err}
		}
		if st.balance, err = decodeUint(bal); err != nil {
			return tokenState{}, &Error{Reason: x402.ReasonExactEVMGetBalance, Payer: payer, Err: err}
		}
	}
	if haveDomain {
		st.domain = cached.(tokenDomain)
	} else {
		// A token without name() or version() leaves that part unchecked;
		// the signature then fails on chain if the domain is wrong.
		if batch[2].Error == nil {
			st.domain.name, _ = decodeString(v.abi, "name", name)
		}
		if batch[3].Error == nil {
			st.domain.version, _ = decodeString(v.abi, "version", version)
		}
		v.domains.Store(token, st.domain)
	}
	return st, nil
}

// reasonForRevert maps an EIP-3009 revert message (FiatToken's wording,
// which the test token shares) to the SDK reason.
func reasonForRevert(msg string) string {
	switch m := strings.ToLower(msg); {
	case strings.Contains(m, "insufficient funds for gas"), strings.Contains(m, "intrinsic gas"):
		// The facilitator's own gas key, not the payer.
		return x402.ReasonExactEVMExecuteTransfer
	case strings.Contains(m, "not yet valid"):
		return x402.ReasonExactEVMValidAfter
	case strings.Contains(m, "expired"):
		return x402.ReasonExactEVMValidBefore
	case strings.Contains(m, "used or canceled"):
		return x402.ReasonExactEVMNonceUsed
	case strings.Contains(m, "exceeds balance"), strings.Contains(m, "insufficient"):
		return x402.ReasonExactEVMInsufficientBalance
	case strings.Contains(m, "invalid signature"):
		return x402.ReasonExactEVMSignature
	}
	return x402.ReasonExactEVMExecuteTransfer
}
