package facilitator_test

import (
	"context"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/facilitator"
	"github.com/agentnet/agentnode/x402/x402test"
)

// stack is the embedded chain, a Local facilitator on it (over HTTP
// JSON-RPC, as against a real network), served by Handler, and a Remote
// client of that server.
type stack struct {
	env    *x402test.Env
	local  *facilitator.Local
	server *httptest.Server
	remote *facilitator.Remote
}

func newStack(t testing.TB) *stack {
	t.Helper()
	env := x402test.NewEnv(t, chain.Config{})
	rc, err := rpc.Dial(env.Chain.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	local, err := facilitator.NewLocal(context.Background(), evm.SettlerConfig{RPC: rc, Key: env.GasKey, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Close() })
	mux := http.NewServeMux()
	mux.Handle("/facilitator/", http.StripPrefix("/facilitator", facilitator.NewHandler(local, nil)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	remote, err := facilitator.NewRemote(facilitator.RemoteConfig{URL: srv.URL + "/facilitator/"})
	if err != nil {
		t.Fatal(err)
	}
	return &stack{env: env, local: local, server: srv, remote: remote}
}

func TestVerifySettleOverHTTP(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	req := s.env.Requirements("10000")
	p, err := evm.Sign(s.env.PayerKey, req)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.remote.Verify(ctx, p, req)
	if err != nil || !v.IsValid || v.Payer != s.env.Payer.Hex() {
		t.Fatalf("verify = %+v, %v", v, err)
	}
	before := s.env.Balance(t, s.env.PayTo)
	r, err := s.remote.Settle(ctx, p, req)
	if err != nil || !r.Success || r.Network != s.env.Chain.Network() || r.Transaction == "" {
		t.Fatalf("settle = %+v, %v", r, err)
	}
	if d := new(big.Int).Sub(s.env.Balance(t, s.env.PayTo), before); d.Int64() != 10000 {
		t.Fatalf("payee gained %s", d)
	}
	sup, err := s.remote.Supported(ctx)
	if err != nil || len(sup.Kinds) != 1 || sup.Kinds[0].Network != "eip155:1337" || sup.Kinds[0].Scheme != "exact" {
		t.Fatalf("supported = %+v, %v", sup, err)
	}
	if got := sup.Signers["eip155:*"]; len(got) != 1 || got[0] != crypto.PubkeyToAddress(s.env.GasKey.PublicKey).Hex() {
		t.Fatalf("signers = %v", sup.Signers)
	}
}

// Each bad payment gets its reason and moves no funds (issue 4, "Must
// show"), through the HTTP facilitator on the real chain.
func TestBadPayments(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	req := s.env.Requirements("10000")
	sign := func(r x402.PaymentRequirements, opts ...evm.SignOption) x402.PaymentPayload {
		p, err := evm.Sign(s.env.PayerKey, r, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now()
	// A used nonce: settle one payment, then present it again.
	used := sign(req)
	first, err := s.local.Settle(ctx, used, req)
	if err != nil || !first.Success {
		t.Fatalf("settle: %+v %v", first, err)
	}
	// The same nonce under a new signature (another window).
	ue, _ := used.ExactEVM()
	var nonce [32]byte
	copy(nonce[:], common.FromHex(ue.Authorization.Nonce))
	reNonce := sign(req, evm.WithNonce(nonce), evm.WithValidity(now.Add(-time.Minute), now.Add(time.Hour)))
	wrongAmount := req
	wrongAmount.Amount = "9999"
	wrongPayTo := req
	wrongPayTo.PayTo = common.HexToAddress("0x1111111111111111111111111111111111111111").Hex()
	wrongNetwork := req
	wrongNetwork.Network = x402.NetworkBaseSepolia
	poor := s.env.NewPayer(t, big.NewInt(5000))
	poorPayment, _ := evm.Sign(poor, req)
	otherKey, _ := crypto.GenerateKey()
	badSig := func() x402.PaymentPayload {
		p := sign(req)
		forged, _ := evm.Sign(otherKey, req)
		e, _ := p.ExactEVM()
		f, _ := forged.ExactEVM()
		e.Signature = f.Signature // signed by someone else
		p.Payload, _ = x402.NewExactEVMPayload(e)
		return p
	}()

	cases := []struct {
		name string
		p    x402.PaymentPayload
		want func(string) bool
	}{
		{"wrong amount", sign(wrongAmount), x402.IsAmountMismatch},
		{"wrong recipient", sign(wrongPayTo), is(x402.ReasonExactEVMRecipientMismatch)},
		{"wrong network", sign(wrongNetwork), is(x402.ReasonExactEVMNetworkMismatch)},
		{"expired", sign(req, evm.WithValidity(now.Add(-time.Hour), now.Add(-time.Minute))), is(x402.ReasonExactEVMValidBefore)},
		{"not yet valid", sign(req, evm.WithValidity(now.Add(time.Hour), now.Add(2*time.Hour))), is(x402.ReasonExactEVMValidAfter)},
		{"bad signature", badSig, is(x402.ReasonExactEVMSignature)},
		{"reused nonce", reNonce, x402.IsNonceUsed},
		{"insufficient balance", poorPayment, x402.IsInsufficientBalance},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			payee, payer := s.env.Balance(t, s.env.PayTo), s.env.Balance(t, s.env.Payer)
			v, err := s.remote.Verify(ctx, c.p, req)
			if err != nil || v.IsValid || !c.want(v.InvalidReason) {
				t.Fatalf("verify = %+v, %v", v, err)
			}
			r, err := s.remote.Settle(ctx, c.p, req)
			if err != nil || r.Success || !c.want(r.ErrorReason) || r.Transaction != "" {
				t.Fatalf("settle = %+v, %v", r, err)
			}
			if s.env.Balance(t, s.env.PayTo).Cmp(payee) != 0 || s.env.Balance(t, s.env.Payer).Cmp(payer) != 0 {
				t.Fatal("funds moved")
			}
		})
	}

	// Replaying the settled payment itself is idempotent: the earlier
	// transaction, no new transfer.
	t.Run("replayed payment", func(t *testing.T) {
		payee := s.env.Balance(t, s.env.PayTo)
		v, err := s.remote.Verify(ctx, used, req)
		if err != nil || v.IsValid || !x402.IsNonceUsed(v.InvalidReason) {
			t.Fatalf("verify = %+v, %v", v, err)
		}
		r, err := s.remote.Settle(ctx, used, req)
		if err != nil || !r.Success || r.Transaction != first.Transaction {
			t.Fatalf("settle = %+v, %v; want the earlier %s", r, err, first.Transaction)
		}
		if s.env.Balance(t, s.env.PayTo).Cmp(payee) != 0 {
			t.Fatal("funds moved")
		}
	})

	t.Run("malformed header", func(t *testing.T) {
		h := http.Header{}
		h.Set(x402.HeaderPaymentSignature, "not base64 {")
		if _, _, err := x402.ReadPayment(h, []x402.PaymentRequirements{req}); err == nil {
			t.Fatal("malformed header accepted")
		}
		for _, path := range []string{"/facilitator/verify", "/facilitator/settle"} {
			resp, err := http.Post(s.server.URL+path, "application/json", strings.NewReader(`{"x402Version":2,"paymentPayload":"garbage"`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s: status %d", path, resp.StatusCode)
			}
		}
	})
}

func is(want string) func(string) bool { return func(got string) bool { return got == want } }
