package node_test

import (
	"context"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/x402test"
)

// writePricedAgent puts a greeter agent priced at price into appPath.
func writePricedAgent(t testing.TB, appPath, name, banner string, price uint64) {
	t.Helper()
	m := agentstore.Manifest{Name: name, Description: "answers with a priced greeting", Tags: []string{"oracle"}, Price: price}
	writeAgent(t, appPath, m, nettest.Greeter(t, banner))
}

// TestPaidRemoteCall: node 0 sells a priced agent; node 1 calls it over
// libp2p (attest and exec streams) and pays with its own payer, within
// max_price; the price is the agent's manifest price, its card names the
// terms, and the verified receipt carries the settlement.
func TestPaidRemoteCall(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	const agentPrice = 7000
	keyFile := env.PayerKeyFile(t)
	nw := nettest.Start(t, 3, nettest.Options{Config: func(i int, c *node.Config) {
		switch i {
		case 0: // the seller
			writePricedAgent(t, c.AppPath, "oracle", "paid hello", agentPrice)
			c.RPC, c.GasKey, c.Asset, c.PayTo = env.Chain.Client().Client(), env.GasKey, env.Token.Hex(), env.PayTo.Hex()
		case 1: // a buyer with a payer
			c.PayerKeyFile, c.MaxPrice = keyFile, 10000
		}
	}})
	seller := nw.Nodes[0].PeerID()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	buyer := nettest.Client(t, nw.Nodes[1])
	var found *api.FoundAgent
	if err := nettest.Eventually(30*time.Second, 200*time.Millisecond, func() error {
		res, err := buyer.Search(ctx, api.SearchRequest{Description: "priced greeting"})
		if err != nil {
			return err
		}
		for _, a := range res.Agents {
			if a.Name == "oracle" {
				found = &a
				return nil
			}
		}
		return errors.New("oracle not found yet")
	}); err != nil {
		t.Fatal(err)
	}
	if found.Price != "7000" || found.Network != "eip155:1337" || !strings.EqualFold(found.Asset, env.Token.Hex()) || !strings.EqualFold(found.PayTo, env.PayTo.Hex()) {
		t.Fatalf("card terms: %+v", found)
	}

	before := env.Balance(t, env.PayTo)
	rc, err := buyer.CallAgent(ctx, seller, "oracle", api.CallRequest{Args: []string{"world"}})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Output != "paid hello world\n" || rc.Payment == nil || rc.Payment.Amount != "7000" || len(rc.Payment.Transaction) != 66 ||
		!strings.EqualFold(rc.Payment.Payer, env.Payer.Hex()) || rc.PaymentRequirements == nil || rc.PaymentRequirements.PayTo != env.PayTo.Hex() {
		t.Fatalf("receipt %+v payment %+v", rc, rc.Payment)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != agentPrice {
		t.Fatalf("pay_to gained %s, want %d", d, agentPrice)
	}
	if _, err := client.VerifyReceipt(ctx, rc, nodetest.Verifiers(), attest.DevPolicy()); err != nil {
		t.Fatalf("the paid receipt does not verify offline: %v", err)
	}

	// A node without a payer gets a clear 402 naming the price, and the
	// remote node's payment headers stay out of this bridge's answer.
	_, err = nettest.Client(t, nw.Nodes[2]).CallAgent(ctx, seller, "oracle", api.CallRequest{Args: []string{"x"}})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusPaymentRequired || !strings.Contains(apiErr.Message, "7000 atomic units") ||
		apiErr.Header.Get("Payment-Required") != "" {
		t.Fatalf("call without a payer: %v", err)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != agentPrice {
		t.Fatalf("pay_to gained %s after the refused call", d)
	}
}

// TestPaidCallOfOwnAgent: a node calls its own priced agent through
// /v1/agents/{its own peer}/{name}/call. The call takes the in-process
// transport, whose 402 must carry the terms like a stream's, so that the
// node's payer pays and the verified receipt names the settlement.
func TestPaidCallOfOwnAgent(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	const agentPrice = 3000
	keyFile := env.PayerKeyFile(t)
	nw := nettest.Start(t, 1, nettest.Options{Config: func(_ int, c *node.Config) {
		writePricedAgent(t, c.AppPath, "oracle", "own hello", agentPrice)
		c.RPC, c.GasKey, c.Asset, c.PayTo = env.Chain.Client().Client(), env.GasKey, env.Token.Hex(), env.PayTo.Hex()
		c.PayerKeyFile, c.MaxPrice = keyFile, 10000
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := env.Balance(t, env.PayTo)
	rc, err := nettest.Client(t, nw.Nodes[0]).CallAgent(ctx, nw.Nodes[0].PeerID(), "oracle", api.CallRequest{Args: []string{"me"}})
	if err != nil {
		t.Fatalf("call of the node's own priced agent: %v", err)
	}
	if rc.Output != "own hello me\n" || rc.Payment == nil || rc.Payment.Amount != "3000" || len(rc.Payment.Transaction) != 66 {
		t.Fatalf("receipt %+v payment %+v", rc, rc.Payment)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != agentPrice {
		t.Fatalf("pay_to gained %s, want %d", d, agentPrice)
	}
}
