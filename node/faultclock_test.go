package node_test

import (
	"encoding/json"
	"math/big"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
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

// TestClockSkewOnPaymentWindows runs paid requests whose signer's clock,
// and the node's, are off the chain's. A client signs validAfter = its now
// - 10 min and validBefore = its now + maxTimeoutSeconds (5 min); the node
// checks the window against its clock, simulates the transfer on chain at
// the chain's time, and the chain enforces the window at settlement.
//
//   - client 5 min ahead or 2 min behind: inside the window, paid;
//   - client 15 min ahead (not valid yet) or 6 min behind (expired): 402
//     with the valid_after or valid_before reason, nothing runs or moves;
//   - node 6 min ahead: it refuses an authorization that the chain would
//     still take (valid_before), rather than risk one it cannot settle;
//   - node 60 s behind the chain (the dev chain's lead under load): an
//     authorization with 8 s left passes the node's check, then expires on
//     chain before settlement: the result is withheld, the entry ends
//     failed, nothing is charged.
//
// What was lost: nothing. Every refused or failed payment moved no funds
// and returned no result; every paid one settled once.
func TestClockSkewOnPaymentWindows(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	dir := t.TempDir()
	cfg := paidConfig(env, dir, testPrice)
	var skew atomic.Int64 // the node's clock minus the real one
	node.SetPaymentClock(&cfg, func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	var atExecuted atomic.Pointer[func()]
	node.SetPaymentFault(&cfg, func(stage string) error {
		if f := atExecuted.Load(); stage == "ran" && f != nil {
			(*f)()
		}
		return nil
	})
	n := nodetest.StartConfig(t, cfg)
	url := n.BridgeURL()
	c := payingClient(t, url, nil, 0)
	req := required(t, url, c)
	before := env.Balance(t, env.PayTo)
	paid := int64(0)
	var failedKey ledger.Key
	pay := func(opts ...evm.SignOption) (*http.Response, []byte, ledger.Key) {
		t.Helper()
		p, err := evm.Sign(env.PayerKey, req, opts...)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := x402.EncodePaymentPayload(p)
		auth, _ := evm.ParseAuthorization(mustExact(t, p).Authorization)
		resp, body := post(t, url, http.Header{"Payment-Signature": {h}}, rawRequest(t, c, client.ExecInput{Wasm: wasmtest.Hello}))
		return resp, body, ledger.Key{Network: string(req.Network), Asset: req.Asset, Payer: env.Payer.Hex(), Nonce: auth.Nonce}
	}
	now := time.Now
	for _, tc := range []struct {
		name   string
		node   time.Duration // the node's clock off the real one
		client time.Duration // the client's clock off the real one
		reason string        // "" means paid
	}{
		{"client 5 min ahead", 0, 5 * time.Minute, ""},
		{"client 2 min behind", 0, -2 * time.Minute, ""},
		{"client 15 min ahead", 0, 15 * time.Minute, x402.ReasonExactEVMValidAfter},
		{"client 6 min behind", 0, -6 * time.Minute, x402.ReasonExactEVMValidBefore},
		{"node 6 min ahead", 6 * time.Minute, 0, x402.ReasonExactEVMValidBefore},
	} {
		skew.Store(int64(tc.node))
		runs := metric(get(t, url+"/metrics"), `agentnode_executions_total{outcome="ok"}`)
		resp, body, _ := pay(evm.WithTime(now().Add(tc.client)))
		if tc.reason == "" {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, body)
			}
			paid++
			continue
		}
		pr, err := x402.DecodePaymentRequired(resp.Header.Get(x402.HeaderPaymentRequired))
		if resp.StatusCode != http.StatusPaymentRequired || err != nil || pr.Error != tc.reason {
			t.Fatalf("%s: %d reason %q (%v), want 402 %s", tc.name, resp.StatusCode, pr.Error, err, tc.reason)
		}
		if metric(get(t, url+"/metrics"), `agentnode_executions_total{outcome="ok"}`) != runs {
			t.Fatalf("%s: the refused request ran", tc.name)
		}
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before).Int64(); d != paid*testPrice {
		t.Fatalf("pay_to gained %d for %d payments", d, paid)
	}

	// The node 60 s behind the chain; an authorization with 8 s left by
	// the chain's clock expires between execution and settlement.
	skew.Store(int64(-time.Minute))
	_, head := env.Chain.Head()
	validBefore := head.Add(8 * time.Second)
	wait := func() {
		for {
			if _, h := env.Chain.Head(); h.After(validBefore) {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	atExecuted.Store(&wait)
	resp, body, key := pay(evm.WithValidity(head.Add(-10*time.Minute), validBefore))
	atExecuted.Store(nil)
	failedKey = key
	var res api.ExecResponse
	if resp.StatusCode != http.StatusPaymentRequired || json.Unmarshal(body, &res) == nil && res.EncryptedResult != "" {
		t.Fatalf("expired at settlement: %d %s", resp.StatusCode, body)
	}
	st, err := x402.DecodeSettleResponse(resp.Header.Get(x402.HeaderPaymentResponse))
	if err != nil || st.Success || st.ErrorReason != x402.ReasonExactEVMValidBefore {
		pr, _ := x402.DecodePaymentRequired(resp.Header.Get(x402.HeaderPaymentRequired))
		t.Fatalf("PAYMENT-RESPONSE of the expired settlement: %+v %v (402 reason %q: %s)", st, err, pr.Error, body)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before).Int64(); d != paid*testPrice {
		t.Fatalf("the expired payment moved funds: pay_to gained %d", d)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if e := ledgerEntry(t, dir, failedKey); e.State != ledger.StateFailed {
		t.Fatalf("the expired payment's entry is %s, want failed", e.State)
	}
}
