package node_test

import (
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/script"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/policy"
	"github.com/agentnet/agentnode/x402/x402test"
)

// TestPayeePolicyPrices: the payee policy's price and description are the
// terms of the 402 and what settles.
func TestPayeePolicyPrices(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	file := filepath.Join(t.TempDir(), "payee.star")
	src := `
def price(r):
    if r["agent"] == "" and r["input_size"] > 3:
        return {"price": r["default_price"] * 2, "description": "long input: double"}
    return None
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := paidConfig(env, t.TempDir(), testPrice)
	cfg.PayeePolicy = file
	n := nodetest.StartConfig(t, cfg)
	c := payingClient(t, n.BridgeURL(), nil, 0)
	_, err := c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"long"}})
	var perr *client.PaymentError
	if !errors.As(err, &perr) || perr.Required.Accepts[0].Amount != "20000" || perr.Required.Resource.Description != "long input: double" {
		t.Fatalf("priced by policy: %v", err)
	}
	before := env.Balance(t, env.PayTo)
	payer := payingClient(t, n.BridgeURL(), env.PayerKey, 20000)
	res, err := payer.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"long"}})
	if err != nil || res.Payment.Amount != "20000" {
		t.Fatalf("paid: %+v %v", res, err)
	}
	// The client pays the last terms up front; the node asks less for a
	// short input, refuses that payment (nothing moves), and the client
	// pays the new terms.
	res, err = payer.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"ab"}})
	if err != nil || res.Payment.Amount != "10000" {
		t.Fatalf("default price: %+v %v", res, err)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != 30000 {
		t.Fatalf("pay_to gained %s, want 30000", d)
	}
	if body := get(t, n.BridgeURL()+"/metrics"); metric(body, `agentnode_payments_total{outcome="refused"}`) != 1 ||
		metric(body, `agentnode_payments_total{outcome="settled"}`) != 2 {
		t.Fatalf("metrics:\n%s", grep(body, "agentnode_payments_total"))
	}
}

// TestPayerPolicyDecides: a client's payer policy refuses what it does not
// allow (nothing is signed or paid) and accounts what it allows.
func TestPayerPolicyDecides(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	n := nodetest.StartConfig(t, paidConfig(env, t.TempDir(), testPrice))
	db, err := bolt.Open(filepath.Join(t.TempDir(), "spend.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prog := &script.Program{Filename: "payer.star", Source: []byte(`
def decide(p):
    if p["target"]["platform"] != "sim":
        return {"allow": False, "reason": "want the dev TEE"}
    if p["spent"]["total"]["day"] + p["requirements"]["amount"] > 15000:
        return {"allow": False, "reason": "daily budget"}
    return True
`)}
	payerPolicy, err := policy.NewPayer(context.Background(), policy.PayerConfig{DB: db, Policy: prog})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{NodeURL: n.BridgeURL(), Policy: attest.DevPolicy(), Verifiers: nodetest.Verifiers(),
		Payer: &client.Payer{Key: env.PayerKey, Policy: payerPolicy}})
	if err != nil {
		t.Fatal(err)
	}
	before := env.Balance(t, env.PayTo)
	if _, err := c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.Hello}); err != nil {
		t.Fatalf("first payment, within budget: %v", err)
	}
	_, err = c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.Hello})
	if !errors.Is(err, client.ErrCannotPay) || !strings.Contains(err.Error(), "daily budget") {
		t.Fatalf("second payment, over budget: %v", err)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != testPrice {
		t.Fatalf("pay_to gained %s, want one payment", d)
	}
	holds, err := payerPolicy.Holds(context.Background())
	if err != nil || len(holds) != 0 {
		t.Fatalf("open holds after settled payments: %v %v", holds, err)
	}
}
