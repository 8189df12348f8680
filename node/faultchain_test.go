package node_test

import (
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/internal/faulttest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/ledger"
	"github.com/agentnet/agentnode/x402/x402test"
)

// TestChainRPCFaults puts a switchable proxy between a paying node and its
// chain's JSON-RPC (rpc_url) and breaks it at every point of a paid
// request:
//
//   - down or hanging while the payment is verified: the request is
//     answered 503 busy with Retry-After within the verification bound,
//     nothing runs, nothing is reserved, no funds move;
//   - slow: payments still go through;
//   - down between execution and settlement: the result is withheld (402
//     with the failed PAYMENT-RESPONSE), the entry stays executed, and
//     when the chain returns the node settles it in the background,
//     exactly once.
//
// What was lost: nothing. Every payment taken was settled once, every
// refused one moved nothing, and the ledger ends with every entry settled.
func TestChainRPCFaults(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	px := faulttest.New(t, strings.TrimPrefix(env.Chain.RPCURL(), "http://"))
	dir := t.TempDir()
	cfg := paidConfig(env, dir, testPrice)
	cfg.RPC, cfg.RPCURL = nil, "http://"+px.Addr()
	var onExecuted atomic.Pointer[func()]
	node.SetPaymentFault(&cfg, func(stage string) error {
		if f := onExecuted.Load(); stage == "ran" && f != nil {
			(*f)()
		}
		return nil
	})
	node.SetVerifyTimeout(&cfg, 2*time.Second)
	n := nodetest.StartConfig(t, cfg)
	url := n.BridgeURL()
	c := payingClient(t, url, nil, 0)
	req := required(t, url, c)
	var keys []ledger.Key // payments that must end settled
	pay := func(arg string) (*http.Response, []byte, ledger.Key) {
		t.Helper()
		p, err := evm.Sign(env.PayerKey, req)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := x402.EncodePaymentPayload(p)
		auth, err := evm.ParseAuthorization(mustExact(t, p).Authorization)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := post(t, url, http.Header{"Payment-Signature": {h}}, rawRequest(t, c, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{arg}}))
		return resp, body, ledger.Key{Network: string(req.Network), Asset: req.Asset, Payer: env.Payer.Hex(), Nonce: auth.Nonce}
	}
	ran := func() float64 { return metric(get(t, url+"/metrics"), `agentnode_executions_total{outcome="ok"}`) }
	before := env.Balance(t, env.PayTo)
	paidSoFar := func() int64 { return new(big.Int).Sub(env.Balance(t, env.PayTo), before).Int64() }

	// Up: a payment settles.
	resp, body, k := pay("up")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("chain up: %d %s", resp.StatusCode, body)
	}
	keys = append(keys, k)

	// Down, then hanging, while the payment is verified.
	for _, mode := range []faulttest.Mode{faulttest.Down, faulttest.Stall} {
		px.Set(mode, 0)
		runs := ran()
		start := time.Now()
		resp, body, _ := pay(mode.String())
		took := time.Since(start)
		var e api.Error
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != api.CodeBusy || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("chain %s: %d %s", mode, resp.StatusCode, body)
		}
		if took > 10*time.Second {
			t.Fatalf("chain %s: answered after %s, past the 2 s verification bound", mode, took)
		}
		if ran() != runs {
			t.Fatalf("chain %s: the request ran", mode)
		}
		px.Set(faulttest.Up, 0)
	}
	if got := paidSoFar(); got != testPrice {
		t.Fatalf("after refusals pay_to gained %d, want %d", got, testPrice)
	}

	// Slow: every answer of the chain held 100 ms.
	px.Set(faulttest.Slow, 100*time.Millisecond)
	resp, body, k = pay("slow")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("chain slow: %d %s", resp.StatusCode, body)
	}
	keys = append(keys, k)
	px.Set(faulttest.Up, 0)

	// Down between execution and settlement: the result is withheld and
	// the payment settles in the background once the chain is back.
	down := func() { px.Set(faulttest.Down, 0) }
	onExecuted.Store(&down)
	resp, body, k = pay("settle-down")
	onExecuted.Store(nil)
	var res api.ExecResponse
	if resp.StatusCode != http.StatusPaymentRequired || json.Unmarshal(body, &res) == nil && res.EncryptedResult != "" {
		t.Fatalf("settlement with the chain down: %d %s", resp.StatusCode, body)
	}
	if st, err := x402.DecodeSettleResponse(resp.Header.Get(x402.HeaderPaymentResponse)); err != nil || st.Success {
		t.Fatalf("PAYMENT-RESPONSE of a failed settlement: %+v %v", st, err)
	}
	keys = append(keys, k)
	if got := paidSoFar(); got != 2*testPrice {
		t.Fatalf("with the chain down pay_to gained %d, want %d", got, 2*testPrice)
	}
	px.Set(faulttest.Up, 0)
	deadline := time.Now().Add(30 * time.Second)
	for metric(get(t, url+"/metrics"), `agentnode_payments_total{outcome="settled_late"}`) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the pending payment did not settle after the chain came back:\n%s", grep(get(t, url+"/metrics"), "agentnode_payments_total"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := paidSoFar(); got != 3*testPrice {
		t.Fatalf("after recovery pay_to gained %d, want exactly %d", got, 3*testPrice)
	}

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if e := ledgerEntry(t, dir, k); e.State != ledger.StateSettled || len(e.TxHash) != 66 {
			t.Errorf("entry %s is %s (tx %q), want settled", k, e.State, e.TxHash)
		}
	}
}
