package evm_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/x402test"
)

func vectorVerifier(t testing.TB) *evm.Verifier {
	v, err := evm.NewVerifier(evm.VerifierConfig{ChainID: 84532, Now: func() time.Time { return time.Unix(x402test.VectorValidAfter+10, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The spec's published vector: digest and signer.
func TestSpecVector(t *testing.T) {
	e, err := x402test.VectorPayload().ExactEVM()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := evm.ParseAuthorization(e.Authorization)
	if err != nil {
		t.Fatal(err)
	}
	domain, err := evm.DomainOf(x402test.VectorRequirements())
	if err != nil {
		t.Fatal(err)
	}
	if got := auth.Digest(domain); got != x402test.VectorDigest {
		t.Fatalf("digest = %s, want %s", got, x402test.VectorDigest)
	}
	c, err := vectorVerifier(t).Check(x402test.VectorPayload(), x402test.VectorRequirements())
	if err != nil {
		t.Fatalf("vector does not verify: %v", err)
	}
	if c.Payer() != x402test.VectorFrom {
		t.Fatalf("payer = %s", c.Payer())
	}

	// Negative vector: the mainnet name "USD Coin" changes the digest,
	// and the signature recovers to another address.
	wrong := domain
	wrong.Name = "USD Coin"
	sig := hexutil.MustDecode(x402test.VectorSignature)
	sig[64] -= 27
	pub, err := crypto.SigToPub(auth.Digest(wrong).Bytes(), sig)
	if err != nil {
		t.Fatal(err)
	}
	if got := crypto.PubkeyToAddress(*pub); got != x402test.VectorWrongNameSigner {
		t.Fatalf("wrong-name signer = %s", got)
	}
	req := x402test.VectorRequirements()
	req.Extra = map[string]any{"name": "USD Coin", "version": "2"}
	p := x402test.VectorPayload()
	p.Accepted = req
	if _, err := vectorVerifier(t).Check(p, req); reason(err) != x402.ReasonExactEVMSignature {
		t.Fatalf("wrong domain: %v", err)
	}
}

// The hand-written EIP-712 hashing agrees with go-ethereum's generic
// typed-data encoder on random inputs.
func TestDigestMatchesAPITypes(t *testing.T) {
	for i := 0; i < 20; i++ {
		key, _ := crypto.GenerateKey()
		var nonce [32]byte
		copy(nonce[:], crypto.Keccak256([]byte{byte(i)}))
		req := x402test.VectorRequirements()
		req.Amount = big.NewInt(int64(i)*1_000_003 + 1).String()
		req.Extra = map[string]any{"name": "Token " + strings.Repeat("x", i), "version": "v" + string(rune('0'+i%10))}
		p, err := evm.Sign(key, req, evm.WithNonce(nonce))
		if err != nil {
			t.Fatal(err)
		}
		e, _ := p.ExactEVM()
		auth, _ := evm.ParseAuthorization(e.Authorization)
		domain, _ := evm.DomainOf(req)
		td := apitypes.TypedData{
			Types: apitypes.Types{
				"EIP712Domain": {{Name: "name", Type: "string"}, {Name: "version", Type: "string"}, {Name: "chainId", Type: "uint256"}, {Name: "verifyingContract", Type: "address"}},
				"TransferWithAuthorization": {{Name: "from", Type: "address"}, {Name: "to", Type: "address"}, {Name: "value", Type: "uint256"},
					{Name: "validAfter", Type: "uint256"}, {Name: "validBefore", Type: "uint256"}, {Name: "nonce", Type: "bytes32"}},
			},
			PrimaryType: "TransferWithAuthorization",
			Domain: apitypes.TypedDataDomain{Name: domain.Name, Version: domain.Version,
				ChainId: math.NewHexOrDecimal256(int64(domain.ChainID)), VerifyingContract: domain.VerifyingContract.Hex()},
			Message: apitypes.TypedDataMessage{
				"from": e.Authorization.From, "to": e.Authorization.To, "value": e.Authorization.Value,
				"validAfter": e.Authorization.ValidAfter, "validBefore": e.Authorization.ValidBefore, "nonce": e.Authorization.Nonce,
			},
		}
		want, _, err := apitypes.TypedDataAndHash(td)
		if err != nil {
			t.Fatal(err)
		}
		if got := auth.Digest(domain); !strings.EqualFold(got.Hex(), hexutil.Encode(want)) {
			t.Fatalf("digest %s, apitypes %x", got, want)
		}
	}
}

func reason(err error) string {
	var e *evm.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	if err != nil {
		return "non-reason error: " + err.Error()
	}
	return ""
}

type fixture struct {
	key *ecdsa.PrivateKey
	req x402.PaymentRequirements
	v   *evm.Verifier
	now time.Time
}

func newFixture(t testing.TB) fixture {
	key, _ := crypto.GenerateKey()
	now := time.Unix(1_800_000_000, 0)
	v, err := evm.NewVerifier(evm.VerifierConfig{ChainID: 1337, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	req := x402.PaymentRequirements{
		Scheme: "exact", Network: "eip155:1337", Amount: "10000",
		Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
		MaxTimeoutSeconds: 60, Extra: map[string]any{"name": "USDC", "version": "2"},
	}
	return fixture{key: key, req: req, v: v, now: now}
}

// mutate re-encodes the payload's scheme part after f changed it.
func mutate(t *testing.T, p x402.PaymentPayload, f func(*x402.ExactEVMPayload)) x402.PaymentPayload {
	e, err := p.ExactEVM()
	if err != nil {
		t.Fatal(err)
	}
	f(&e)
	raw, _ := json.Marshal(e)
	p.Payload = raw
	return p
}

// Every local check answers with the reason the SDKs use.
func TestCheckReasons(t *testing.T) {
	fx := newFixture(t)
	good, err := evm.Sign(fx.key, fx.req, evm.WithTime(fx.now))
	if err != nil {
		t.Fatal(err)
	}
	// Checked twice: the second answer comes from the verifier's memory of
	// accepted signatures, which every tampered case below then runs
	// against (its signature, or its digest, differs from good's).
	for range 2 {
		if _, err := fx.v.Check(good, fx.req); err != nil {
			t.Fatalf("good payment: %v", err)
		}
	}
	signWith := func(req x402.PaymentRequirements, opts ...evm.SignOption) x402.PaymentPayload {
		p, err := evm.Sign(fx.key, req, append([]evm.SignOption{evm.WithTime(fx.now)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	other := func(f func(r *x402.PaymentRequirements)) x402.PaymentRequirements {
		r := fx.req
		r.Extra = map[string]any{"name": "USDC", "version": "2"}
		f(&r)
		return r
	}
	highS := mutate(t, good, func(e *x402.ExactEVMPayload) {
		sig := hexutil.MustDecode(e.Signature)
		s := new(big.Int).SetBytes(sig[32:64])
		n := crypto.S256().Params().N
		new(big.Int).Sub(n, s).FillBytes(sig[32:64])
		sig[64] ^= 1 // (r, n-s, v^1) is the malleable twin
		e.Signature = hexutil.Encode(sig)
	})
	vZeroOne := mutate(t, good, func(e *x402.ExactEVMPayload) {
		sig := hexutil.MustDecode(e.Signature)
		sig[64] -= 27
		e.Signature = hexutil.Encode(sig)
	})
	if _, err := fx.v.Check(vZeroOne, fx.req); err != nil {
		t.Fatalf("v in {0,1} is not normalized: %v", err)
	}

	cases := []struct {
		name string
		p    x402.PaymentPayload
		req  x402.PaymentRequirements
		want string
	}{
		{"scheme", good, other(func(r *x402.PaymentRequirements) { r.Scheme = "upto" }), x402.ReasonExactEVMScheme},
		{"network mismatch", good, other(func(r *x402.PaymentRequirements) { r.Network = "eip155:84532" }), x402.ReasonExactEVMNetworkMismatch},
		{"other chain", signWith(other(func(r *x402.PaymentRequirements) { r.Network = "eip155:8453" })), other(func(r *x402.PaymentRequirements) { r.Network = "eip155:8453" }), x402.ReasonExactEVMNetworkConfig},
		{"missing signature", mutate(t, good, func(e *x402.ExactEVMPayload) { e.Signature = "" }), fx.req, x402.ReasonExactEVMMissingSignature},
		{"bad nonce", mutate(t, good, func(e *x402.ExactEVMPayload) { e.Authorization.Nonce = "0x12" }), fx.req, x402.ReasonExactEVMPayload},
		{"bad value", mutate(t, good, func(e *x402.ExactEVMPayload) { e.Authorization.Value = "1e4" }), fx.req, x402.ReasonExactEVMPayload},
		{"recipient", good, other(func(r *x402.PaymentRequirements) { r.PayTo = "0x857b06519E91e3A54538791bDbb0E22373e36b66" }), x402.ReasonExactEVMRecipientMismatch},
		{"amount", good, other(func(r *x402.PaymentRequirements) { r.Amount = "10001" }), x402.ReasonExactEVMValueMismatch},
		{"expired", signWith(fx.req, evm.WithValidity(fx.now.Add(-time.Hour), fx.now.Add(-time.Second))), fx.req, x402.ReasonExactEVMValidBefore},
		{"expires too soon", signWith(fx.req, evm.WithValidity(fx.now.Add(-time.Hour), fx.now.Add(5*time.Second))), fx.req, x402.ReasonExactEVMValidBefore},
		{"not yet valid", signWith(fx.req, evm.WithValidity(fx.now.Add(time.Minute), fx.now.Add(time.Hour))), fx.req, x402.ReasonExactEVMValidAfter},
		{"missing domain", good, other(func(r *x402.PaymentRequirements) { r.Extra = nil }), x402.ReasonExactEVMMissingDomain},
		{"wrong domain version", good, other(func(r *x402.PaymentRequirements) { r.Extra["version"] = "1" }), x402.ReasonExactEVMSignature},
		{"other token", good, other(func(r *x402.PaymentRequirements) { r.Asset = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913" }), x402.ReasonExactEVMSignature},
		{"tampered value", mutate(t, good, func(e *x402.ExactEVMPayload) { e.Authorization.Value = "10001" }), other(func(r *x402.PaymentRequirements) { r.Amount = "10001" }), x402.ReasonExactEVMSignature},
		{"high s", highS, fx.req, x402.ReasonExactEVMSignature},
		{"smart wallet signature", mutate(t, good, func(e *x402.ExactEVMPayload) { e.Signature += "00" }), fx.req, x402.ReasonExactEVMSignatureFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := fx.v.Check(c.p, c.req)
			if got := reason(err); got != c.want {
				t.Fatalf("reason = %q, want %q (err %v)", got, c.want, err)
			}
			if !errors.Is(err, evm.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
		})
	}
}

func TestSignWindow(t *testing.T) {
	fx := newFixture(t)
	p, err := evm.Sign(fx.key, fx.req, evm.WithTime(fx.now), evm.WithResource(x402.ResourceInfo{URL: "http://x/y"}))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := p.ExactEVM()
	if e.Authorization.ValidAfter != "1799999400" || e.Authorization.ValidBefore != "1800000060" {
		t.Fatalf("window = %s..%s", e.Authorization.ValidAfter, e.Authorization.ValidBefore)
	}
	if e.Authorization.From != crypto.PubkeyToAddress(fx.key.PublicKey).Hex() || e.Authorization.Value != "10000" {
		t.Fatalf("authorization = %+v", e.Authorization)
	}
	if p.Resource == nil || p.Resource.URL != "http://x/y" || p.X402Version != 2 {
		t.Fatalf("payload = %+v", p)
	}
	// Two signatures never share a nonce.
	q, _ := evm.Sign(fx.key, fx.req, evm.WithTime(fx.now))
	e2, _ := q.ExactEVM()
	if e2.Authorization.Nonce == e.Authorization.Nonce {
		t.Fatal("nonce reused")
	}
	if _, err := evm.Sign(fx.key, x402.PaymentRequirements{Scheme: "exact", Network: "eip155:1", Amount: "1", Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"}); reason(err) != x402.ReasonExactEVMMissingDomain {
		t.Fatalf("sign without domain: %v", err)
	}
}

func TestParseAuthorization(t *testing.T) {
	good := x402.Authorization{From: "0x857b06519e91e3a54538791bdbb0e22373e36b66", To: "0x209693BC6AFC0C5328BA36FAF03C514EF312287C", Value: "1", ValidAfter: "0", ValidBefore: "2", Nonce: "0x" + strings.Repeat("ab", 32)}
	if _, err := evm.ParseAuthorization(good); err != nil {
		t.Fatal(err)
	}
	bad := []func(a *x402.Authorization){
		func(a *x402.Authorization) { a.From = "0x857b06519E91e3a54538791bdbb0e22373e36b66" }, // broken checksum
		func(a *x402.Authorization) { a.To = "209693BC6AFC0C5328BA36FAF03C514EF312287C" },
		func(a *x402.Authorization) { a.Value = "-1" },
		func(a *x402.Authorization) { a.Value = "01" },
		func(a *x402.Authorization) {
			a.Value = "115792089237316195423570985008687907853269984665640564039457584007913129639936"
		}, // 2^256
		func(a *x402.Authorization) { a.ValidBefore = "" },
		func(a *x402.Authorization) { a.Nonce = "0x" + strings.Repeat("ab", 31) },
		func(a *x402.Authorization) { a.Nonce = strings.Repeat("ab", 32) },
	}
	for i, f := range bad {
		a := good
		f(&a)
		if _, err := evm.ParseAuthorization(a); !errors.Is(err, evm.ErrMalformed) {
			t.Errorf("case %d: err = %v", i, err)
		}
	}
	_ = common.Address{}
}

// BenchmarkVerifyPayment measures the facilitator's local work per payment:
// payload decoding, parsing, the EIP-712 digest and signature recovery.
func BenchmarkVerifyPayment(b *testing.B) {
	fx := newFixture(b)
	p, err := evm.Sign(fx.key, fx.req, evm.WithTime(fx.now))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fx.v.Check(p, fx.req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPaymentHeader adds the base64-JSON header decoding a
// server does first.
func BenchmarkVerifyPaymentHeader(b *testing.B) {
	fx := newFixture(b)
	p, _ := evm.Sign(fx.key, fx.req, evm.WithTime(fx.now))
	h, _ := x402.EncodePaymentPayload(p)
	b.ReportAllocs()
	for b.Loop() {
		q, err := x402.DecodePaymentPayload(h)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := fx.v.Check(q, fx.req); err != nil {
			b.Fatal(err)
		}
	}
}

// ReadDomain reads the token's EIP-712 name and version; an address with
// no token behind it is an error, not an empty domain.
func TestReadDomain(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	ctx := context.Background()
	rc := env.Chain.Client().Client()
	name, version, err := evm.ReadDomain(ctx, rc, env.Token)
	if err != nil || name != chain.DefaultTokenName || version != chain.DefaultTokenVersion {
		t.Fatalf("ReadDomain = %q, %q, %v; want %q, %q", name, version, err, chain.DefaultTokenName, chain.DefaultTokenVersion)
	}
	if _, _, err := evm.ReadDomain(ctx, rc, env.PayTo); err == nil || !strings.Contains(err.Error(), "name()") {
		t.Fatalf("ReadDomain of an account without code: %v", err)
	}
}
