package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

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

// ledgerEntry reads a payment's ledger entry from a stopped node's data
// dir.
func ledgerEntry(t *testing.T, dataDir string, k ledger.Key) ledger.Entry {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dataDir, "node.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := ledger.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	e, err := l.Get(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestCrashBetweenExecutionAndSettlement kills a node (a fault hook stops
// the paid request as a crash would) just before the settlement is sent,
// with the execution recorded (or after the chain settled, before the
// ledger knew), then restarts it on the same data dir: the payment
// settles exactly once, and a second restart changes nothing.
func TestCrashBetweenExecutionAndSettlement(t *testing.T) {
	for _, stage := range []string{"sending", "settled"} {
		t.Run(stage, func(t *testing.T) {
			env := x402test.NewEnv(t, chain.Config{})
			dir := t.TempDir()
			cfg := paidConfig(env, dir, testPrice)
			crash := errors.New("simulated crash")
			node.SetPaymentFault(&cfg, func(s string) error {
				if s == stage {
					return crash
				}
				return nil
			})
			n, err := node.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			c := payingClient(t, n.BridgeURL(), nil, 0)
			req := required(t, n.BridgeURL(), c)
			p, err := evm.Sign(env.PayerKey, req)
			if err != nil {
				t.Fatal(err)
			}
			hdr, _ := x402.EncodePaymentPayload(p)
			before := env.Balance(t, env.PayTo)
			resp, body := post(t, n.BridgeURL(), http.Header{"Payment-Signature": {hdr}}, rawRequest(t, c, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"x"}}))
			var res api.ExecResponse
			if resp.StatusCode == http.StatusOK || json.Unmarshal(body, &res) == nil && res.EncryptedResult != "" {
				t.Fatalf("the crashed request released a result: %d %s", resp.StatusCode, body)
			}
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			auth, err := evm.ParseAuthorization(mustExact(t, p).Authorization)
			if err != nil {
				t.Fatal(err)
			}
			key := ledger.Key{Network: string(req.Network), Asset: req.Asset, Payer: env.Payer.Hex(), Nonce: auth.Nonce}
			if e := ledgerEntry(t, dir, key); e.State != ledger.StateExecuted {
				t.Fatalf("after the crash the entry is %s, want executed", e.State)
			}
			onChain := new(big.Int).Sub(env.Balance(t, env.PayTo), before).Int64()
			if want := map[string]int64{"sending": 0, "settled": testPrice}[stage]; onChain != want {
				t.Fatalf("after the crash pay_to gained %d, want %d", onChain, want)
			}

			for range 2 { // restart, and restart again: recovery settles once
				n2 := nodetest.StartConfig(t, paidConfig(env, dir, testPrice))
				if err := n2.Close(); err != nil {
					t.Fatal(err)
				}
				if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != testPrice {
					t.Fatalf("after restart pay_to gained %s, want exactly %d", d, testPrice)
				}
				e := ledgerEntry(t, dir, key)
				if e.State != ledger.StateSettled || len(e.TxHash) != 66 {
					t.Fatalf("after restart the entry is %s (tx %q), want settled", e.State, e.TxHash)
				}
			}
		})
	}
}

// TestTrapAfterWorkSettles: a job that ran and then trapped did the work
// it was paid for; the error answer carries PAYMENT-RESPONSE and the
// payment settles. A job refused before it ran is never settled.
func TestTrapAfterWorkSettles(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	n := nodetest.StartConfig(t, paidConfig(env, t.TempDir(), testPrice))
	before := env.Balance(t, env.PayTo)
	_, err := payingClient(t, n.BridgeURL(), env.PayerKey, testPrice).Exec(context.Background(), client.ExecInput{Wasm: wasmtest.DeepRecursion})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != api.CodeTrap {
		t.Fatalf("trap: %v", err)
	}
	st, derr := x402.DecodeSettleResponse(apiErr.Header.Get(x402.HeaderPaymentResponse))
	if derr != nil || !st.Success || st.Transaction == "" {
		t.Fatalf("PAYMENT-RESPONSE of the trap: %+v %v", st, derr)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != testPrice {
		t.Fatalf("pay_to gained %s, want %d", d, testPrice)
	}
}

// TestV1Payment: an X-PAYMENT header (x402 v1) pays too, answered with
// X-PAYMENT-RESPONSE.
func TestV1Payment(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	n := nodetest.StartConfig(t, paidConfig(env, t.TempDir(), testPrice))
	c := payingClient(t, n.BridgeURL(), nil, 0)
	req := required(t, n.BridgeURL(), c)
	p, err := evm.Sign(env.PayerKey, req)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := x402.EncodePaymentPayloadV1(x402.PaymentPayloadV1{X402Version: 1, Scheme: "exact", Network: string(req.Network), Payload: p.Payload})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := post(t, n.BridgeURL(), http.Header{"X-Payment": {v1}}, rawRequest(t, c, client.ExecInput{Wasm: wasmtest.Hello}))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("v1 payment: %d %s", resp.StatusCode, body)
	}
	st, err := x402.DecodeSettleResponse(resp.Header.Get(x402.HeaderPaymentResponseV1))
	if err != nil || !st.Success || resp.Header.Get(x402.HeaderPaymentResponse) != "" {
		t.Fatalf("X-PAYMENT-RESPONSE %+v %v", st, err)
	}
}

// TestNodeFacilitatorRoutes: facilitator = true serves the node's own
// facilitator on the bridge.
func TestNodeFacilitatorRoutes(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	cfg := paidConfig(env, t.TempDir(), 0)
	cfg.Facilitator = true
	n := nodetest.StartConfig(t, cfg)
	var sup x402.SupportedResponse
	if err := json.Unmarshal([]byte(get(t, n.BridgeURL()+"/facilitator/supported")), &sup); err != nil || len(sup.Kinds) == 0 ||
		sup.Kinds[0].Network != "eip155:1337" || sup.Kinds[0].Scheme != "exact" {
		t.Fatalf("supported: %+v %v", sup, err)
	}
	resp, err := http.Post(n.BridgeURL()+"/facilitator/verify", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("empty verify: %d", resp.StatusCode)
	}
	// A free node with payment terms runs modules for nothing.
	res, err := payingClient(t, n.BridgeURL(), nil, 0).Exec(context.Background(), client.ExecInput{Wasm: wasmtest.Hello})
	if err != nil || res.Payment != nil {
		t.Fatalf("free execution: %+v %v", res, err)
	}
	// Without facilitator = true the routes do not exist.
	n2 := nodetest.StartConfig(t, paidConfig(env, t.TempDir(), 0))
	resp, err = http.Get(n2.BridgeURL() + "/facilitator/supported")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("facilitator off: %d", resp.StatusCode)
	}
}
