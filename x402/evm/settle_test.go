package evm_test

import (
	"context"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/x402test"
)

func newSettler(t testing.TB, env *x402test.Env, overHTTP bool) *evm.Settler {
	t.Helper()
	client := env.Chain.Client().Client()
	if overHTTP {
		c, err := rpc.Dial(env.Chain.RPCURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		client = c
	}
	s, err := evm.NewSettler(context.Background(), evm.SettlerConfig{RPC: client, Key: env.GasKey, ReceiptTimeout: 20 * time.Second, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// A payer without ETH pays; the facilitator verifies over JSON-RPC and
// settles with its own gas; the payee gains exactly the amount; the same
// payment settles again idempotently, with the same transaction.
func TestSettle(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	for _, overHTTP := range []bool{false, true} {
		s := newSettler(t, env, overHTTP)
		ctx := context.Background()
		req := env.Requirements("10000")
		p, err := evm.Sign(env.PayerKey, req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verifier().Verify(ctx, p, req); err != nil {
			t.Fatalf("verify: %v", err)
		}
		before := env.Balance(t, env.PayTo)
		resp, err := s.Settle(ctx, p, req)
		if err != nil || !resp.Success {
			t.Fatalf("settle: %+v, %v", resp, err)
		}
		if resp.Payer != env.Payer.Hex() || resp.Network != "eip155:1337" || len(resp.Transaction) != 66 {
			t.Fatalf("response = %+v", resp)
		}
		if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != 10000 {
			t.Fatalf("payee gained %s", d)
		}
		again, err := s.Settle(ctx, p, req)
		if err != nil || !again.Success || again.Transaction != resp.Transaction {
			t.Fatalf("second settle: %+v, %v", again, err)
		}
		// After settlement the payment no longer verifies.
		if _, err := s.Verifier().Verify(ctx, p, req); reason(err) != x402.ReasonExactEVMNonceUsed {
			t.Fatalf("verify after settle: %v", err)
		}
		// A new settler (a restarted node) finds the earlier transaction.
		fresh := newSettler(t, env, overHTTP)
		found, err := fresh.Settle(ctx, p, req)
		if err != nil || !found.Success || found.Transaction != resp.Transaction {
			t.Fatalf("settle after restart: %+v, %v", found, err)
		}
		if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != 10000 {
			t.Fatalf("payee gained %s after retries", d)
		}
	}
}

// Fifty concurrent settlements of one payment send one transaction.
func TestSettleConcurrentSamePayment(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	s := newSettler(t, env, false)
	req := env.Requirements("777")
	p, _ := evm.Sign(env.PayerKey, req)
	before := env.Balance(t, env.PayTo)
	var wg sync.WaitGroup
	txs := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.Settle(context.Background(), p, req)
			if err != nil || !resp.Success {
				t.Errorf("settle: %+v %v", resp, err)
			}
			txs <- resp.Transaction
		}()
	}
	wg.Wait()
	close(txs)
	seen := map[string]bool{}
	for tx := range txs {
		seen[tx] = true
	}
	if len(seen) != 1 {
		t.Fatalf("%d distinct transactions", len(seen))
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != 777 {
		t.Fatalf("payee gained %s", d)
	}
}

// Many payers settling at once share blocks, with the gas key's nonce kept
// in memory.
func TestSettleManyShareBlocks(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{BlockPeriod: 20 * time.Millisecond})
	s := newSettler(t, env, true)
	const n = 40
	payers := make([]x402.PaymentPayload, n)
	req := env.Requirements("100")
	for i := range payers {
		k := env.NewPayer(t, big.NewInt(100))
		payers[i], _ = evm.Sign(k, req)
	}
	start, _ := env.Chain.Head()
	before := env.Balance(t, env.PayTo)
	var wg sync.WaitGroup
	for i := range payers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := s.Settle(context.Background(), payers[i], req); err != nil || !resp.Success {
				t.Errorf("settle %d: %+v %v", i, resp, err)
			}
		}()
	}
	wg.Wait()
	end, _ := env.Chain.Head()
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != 100*n {
		t.Fatalf("payee gained %s", d)
	}
	if blocks := end - start; blocks > n/3 {
		t.Fatalf("%d settlements took %d blocks", n, blocks)
	}
}

// On-chain checks answer with precise reasons and move nothing.
func TestSettleRejects(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	s := newSettler(t, env, false)
	ctx := context.Background()
	req := env.Requirements("10000")

	poor := env.NewPayer(t, big.NewInt(9999))
	wrongName := req
	wrongName.Extra = map[string]any{"name": "USD Coin", "version": "2"}
	wrongVersion := req
	wrongVersion.Extra = map[string]any{"name": "USDC", "version": "1"}
	noToken := req
	noToken.Asset = crypto.PubkeyToAddress(env.GasKey.PublicKey).Hex()
	cases := []struct {
		name string
		key  func() x402.PaymentPayload
		req  x402.PaymentRequirements
		want string
	}{
		{"insufficient balance", func() x402.PaymentPayload { p, _ := evm.Sign(poor, req); return p }, req, x402.ReasonExactEVMInsufficientBalance},
		{"token name", func() x402.PaymentPayload { p, _ := evm.Sign(env.PayerKey, wrongName); return p }, wrongName, x402.ReasonExactEVMTokenNameMismatch},
		{"token version", func() x402.PaymentPayload { p, _ := evm.Sign(env.PayerKey, wrongVersion); return p }, wrongVersion, x402.ReasonExactEVMTokenVersionMismatch},
		{"not a token", func() x402.PaymentPayload { p, _ := evm.Sign(env.PayerKey, noToken); return p }, noToken, x402.ReasonExactEVMEIP3009NotSupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := env.Balance(t, env.PayTo)
			p := c.key()
			if _, err := s.Verifier().Verify(ctx, p, c.req); reason(err) != c.want {
				t.Fatalf("verify reason = %q (%v), want %q", reason(err), err, c.want)
			}
			resp, err := s.Settle(ctx, p, c.req)
			if err != nil || resp.Success || resp.ErrorReason != c.want || resp.Transaction != "" {
				t.Fatalf("settle = %+v, %v; want reason %q", resp, err, c.want)
			}
			if env.Balance(t, env.PayTo).Cmp(before) != 0 {
				t.Fatal("funds moved")
			}
		})
	}
}

// A nonce burnt by cancelAuthorization is nonce_already_used, not success.
func TestSettleCanceledAuthorization(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	s := newSettler(t, env, false)
	ctx := context.Background()
	req := env.Requirements("10000")
	p, _ := evm.Sign(env.PayerKey, req)
	// Another transfer with the same nonce (to a different payee) uses it.
	other := req
	other.PayTo = crypto.PubkeyToAddress(env.GasKey.PublicKey).Hex()
	e, _ := p.ExactEVM()
	var nonce [32]byte
	copy(nonce[:], common.FromHex(e.Authorization.Nonce))
	q, _ := evm.Sign(env.PayerKey, other, evm.WithNonce(nonce))
	if resp, err := s.Settle(ctx, q, other); err != nil || !resp.Success {
		t.Fatalf("settle other: %+v %v", resp, err)
	}
	resp, err := s.Settle(ctx, p, req)
	if err != nil || resp.Success || !x402.IsNonceUsed(resp.ErrorReason) {
		t.Fatalf("settle with used nonce = %+v, %v", resp, err)
	}
}

// The verification batch simulates the transfer, so what only the chain
// knows is caught before anything is sent: here its clock, run ahead by a
// burst of blocks, has passed an authorization the wall clock still
// accepts.
func TestVerifySimulatesOnChainClock(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{BlockPeriod: -1})
	s := newSettler(t, env, false)
	ctx := context.Background()
	for i := 0; i < 25; i++ { // one block each: the chain clock gains 25s
		env.NewPayer(t, big.NewInt(1))
	}
	if _, head := env.Chain.Head(); time.Until(head) < 15*time.Second {
		t.Skipf("chain clock only %v ahead", time.Until(head))
	}
	req := env.Requirements("10000")
	now := time.Now()
	p, _ := evm.Sign(env.PayerKey, req, evm.WithValidity(now.Add(-time.Minute), now.Add(10*time.Second)))
	if _, err := s.Verifier().Check(p, req); err != nil {
		t.Fatalf("local check: %v", err)
	}
	before := env.Balance(t, env.PayTo)
	if _, err := s.Verifier().Verify(ctx, p, req); reason(err) != x402.ReasonExactEVMValidBefore {
		t.Fatalf("verify: %v", err)
	}
	resp, err := s.Settle(ctx, p, req)
	if err != nil || resp.Success || resp.ErrorReason != x402.ReasonExactEVMValidBefore {
		t.Fatalf("settle = %+v, %v", resp, err)
	}
	if env.Balance(t, env.PayTo).Cmp(before) != 0 {
		t.Fatal("funds moved")
	}
}

func TestSettleAfterClose(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	s := newSettler(t, env, false)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	req := env.Requirements("1")
	p, _ := evm.Sign(env.PayerKey, req)
	before := env.Balance(t, env.PayTo)
	if _, err := s.Settle(context.Background(), p, req); !errors.Is(err, evm.ErrClosed) {
		t.Fatalf("settle after close: %v", err)
	}
	if env.Balance(t, env.PayTo).Cmp(before) != 0 {
		t.Fatal("funds moved")
	}
}

// Another facilitator submits the same authorization into the same block,
// ahead of this settler's transaction, which reverts. The payee was paid
// by that transfer, so the settlement succeeds with its transaction; no
// payment is lost to the race.
func TestSettleUsedEarlierInTheSameBlock(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{BlockPeriod: 400 * time.Millisecond})
	ctx := context.Background()
	rivalKey, _ := crypto.GenerateKey()
	if err := env.Chain.Fund(ctx, crypto.PubkeyToAddress(rivalKey.PublicKey), chain.DefaultGasFunds, nil); err != nil {
		t.Fatal(err)
	}
	rival, err := evm.NewSettler(ctx, evm.SettlerConfig{RPC: env.Chain.Client().Client(), Key: rivalKey, ReceiptTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rival.Close() })
	s := newSettler(t, env, false)
	req := env.Requirements("10000")
	p, _ := evm.Sign(env.PayerKey, req)
	if _, err := s.Verify(ctx, p, req); err != nil {
		t.Fatal(err)
	}
	before := env.Balance(t, env.PayTo)
	start, _ := env.Chain.Head()
	rivalDone := make(chan x402.SettleResponse, 1)
	go func() {
		resp, _ := rival.Settle(ctx, p, req)
		rivalDone <- resp
	}()
	// The rival's transaction waits in the pool for the block.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if n, err := env.Chain.Client().PendingNonceAt(ctx, crypto.PubkeyToAddress(rivalKey.PublicKey)); err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rival's transaction never reached the pool")
		}
	}
	resp, err := s.Settle(ctx, p, req)
	theirs := <-rivalDone
	if end, _ := env.Chain.Head(); end != start+1 {
		t.Skipf("the two transactions landed in blocks %d..%d, not one; the race did not happen", start+1, end)
	}
	if err != nil || !resp.Success || !theirs.Success || resp.Transaction != theirs.Transaction {
		t.Fatalf("settle = %+v, %v; the rival's = %+v: want success with the rival's transaction", resp, err, theirs)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != 10000 {
		t.Fatalf("payee gained %s", d)
	}
}
