package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/activity"
	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/x402test"
)

// lastRun returns the node's most recent served execution.
func lastRun(t *testing.T, n *node.Node) activity.Event {
	t.Helper()
	for _, e := range n.Activity() {
		if e.Kind == activity.Served {
			return e
		}
	}
	t.Fatal("no execution in the node's activity")
	return activity.Event{}
}

// TestOutOfFuelAtTheBridge is the must-show at the bridge: an agent
// that loops forever, with max_fuel = 10^7, is stopped by fuel (422
// out_of_fuel, not the deadline) in under 50 ms of execution, every time;
// the node serves the next request as usual.
func TestOutOfFuelAtTheBridge(t *testing.T) {
	dir := t.TempDir()
	appPath := filepath.Join(dir, "agents")
	writeAgent(t, appPath, agentstore.Manifest{Name: "spin", Description: "spins forever", MaxFuel: 10_000_000}, wasmtest.InfiniteLoop)
	writeAgent(t, appPath, agentstore.Manifest{Name: "echo", Description: "echoes"}, wasmtest.EchoArgs)
	off := false
	n := nodetest.Start(t, func(c *node.Config) { c.DataDir, c.P2P = dir, &off })
	c := nodetest.Client(t, n.BridgeURL())
	ctx := context.Background()
	best := time.Hour
	for range 3 { // the best of three, so a busy machine does not fail the test
		_, err := c.Exec(ctx, client.ExecInput{Agent: "spin"})
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity || apiErr.Code != api.CodeOutOfFuel ||
			!strings.Contains(apiErr.Message, "out of fuel") {
			t.Fatalf("spinning agent with max_fuel: %v, want 422 %s", err, api.CodeOutOfFuel)
		}
		run := lastRun(t, n)
		if run.Agent != "spin" || run.Outcome != api.CodeOutOfFuel {
			t.Fatalf("activity %+v", run)
		}
		best = min(best, run.Duration)
	}
	if best > 50*time.Millisecond {
		t.Fatalf("out of fuel after %v of execution, want under 50 ms", best)
	}
	if res, err := c.Exec(ctx, client.ExecInput{Agent: "echo", Args: []string{"after"}}); err != nil || string(res.Output) != "after\n" {
		t.Fatalf("the next request: %v", err)
	}
}

// TestFuelInReceipts checks fuel end to end on a free node: the receipt of
// an execution and of a network call shows the fuel used, the same request
// twice uses the same fuel (the module reads no random bytes), the
// commitment opens with the fuel and with no other count, and a saved
// receipt (exec --json) carries it.
func TestFuelInReceipts(t *testing.T) {
	dir := t.TempDir()
	writeAgent(t, filepath.Join(dir, "agents"), agentstore.Manifest{Name: "echo", Description: "echoes its arguments"}, wasmtest.EchoArgs)
	n := nodetest.Start(t, func(c *node.Config) { c.DataDir = dir })
	c := nodetest.Client(t, n.BridgeURL())
	ctx := context.Background()
	in := client.ExecInput{Agent: "echo", Args: []string{"same", "request"}}
	first, err := c.Exec(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Exec(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Fuel == 0 || second.Fuel != first.Fuel || first.Salt == second.Salt {
		t.Fatalf("fuel %d then %d (salts differ: %v): want the same count, not zero", first.Fuel, second.Fuel, first.Salt != second.Salt)
	}
	other, err := c.Exec(ctx, client.ExecInput{Agent: "echo", Args: []string{"a", "longer", "request"}})
	if err != nil || other.Fuel == first.Fuel {
		t.Fatalf("another input used %d units like the first (%v)", other.Fuel, err)
	}

	rc := first.Receipt(in, attest.DevPolicy())
	raw, err := json.Marshal(rc)
	if err != nil || !strings.Contains(string(raw), `"fuel":`+strconv.FormatUint(first.Fuel, 10)+`,`) {
		t.Fatalf("receipt JSON lacks the fuel: %s", raw)
	}
	if _, err := client.VerifyReceipt(ctx, &rc, nodetest.Verifiers(), attest.DevPolicy()); err != nil {
		t.Fatalf("receipt: %v", err)
	}
	for _, fuel := range []uint64{0, first.Fuel - 1, first.Fuel + 1} {
		bad := rc
		bad.Fuel = fuel
		if _, err := client.VerifyReceipt(ctx, &bad, nodetest.Verifiers(), attest.DevPolicy()); !errors.Is(err, enclave.ErrCommitmentMismatch) {
			t.Fatalf("receipt claiming %d units: %v, want ErrCommitmentMismatch", fuel, err)
		}
	}

	// A call through the network (here: the node's own agent) shows it too.
	var call *client.Receipt
	if err := nettest.Eventually(10*time.Second, 50*time.Millisecond, func() error {
		call, err = c.CallAgent(ctx, n.PeerID(), "echo", api.CallRequest{Args: in.Args})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if call.Fuel != first.Fuel {
		t.Fatalf("call used %d units, exec %d", call.Fuel, first.Fuel)
	}
}

// TestFuelPricedAgent sells agents priced by fuel through the network: the
// card, the agent list and the 402 all say price + ceil(max_fuel ×
// price_per_mfuel / 10^6), paid before the run; the run gets exactly
// max_fuel; a run that spends it is answered out_of_fuel and paid for, the
// work having been done.
func TestFuelPricedAgent(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	keyFile := env.PayerKeyFile(t)
	const (
		price    = 1000
		maxFuel  = 10_000_000
		perMFuel = 3
		total    = price + maxFuel*perMFuel/1_000_000 // 1030
	)
	greeter := agentstore.Manifest{Name: "meter", Description: "greets by the fuel", Price: price, MaxFuel: maxFuel, PricePerMFuel: perMFuel}
	spin := agentstore.Manifest{Name: "spinner", Description: "spins by the fuel", MaxFuel: maxFuel, PricePerMFuel: perMFuel}
	nw := nettest.Start(t, 2, nettest.Options{Config: func(i int, c *node.Config) {
		switch i {
		case 0: // the seller
			writeAgent(t, c.AppPath, greeter, nettest.Greeter(t, "metered"))
			writeAgent(t, c.AppPath, spin, wasmtest.InfiniteLoop)
			c.RPC, c.GasKey, c.Asset, c.PayTo = env.Chain.Client().Client(), env.GasKey, env.Token.Hex(), env.PayTo.Hex()
		case 1: // a buyer with a payer
			c.PayerKeyFile, c.MaxPrice = keyFile, 10000
		}
	}})
	seller := nw.Nodes[0].PeerID()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	list, err := nettest.Client(t, nw.Nodes[0]).Agents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		want := map[string]string{"meter": "1030", "spinner": "30"}[a.Name]
		if a.Price != want || a.MaxFuel != maxFuel || a.PricePerMFuel != perMFuel {
			t.Fatalf("agent list: %+v, want price %s with max_fuel and price_per_mfuel", a, want)
		}
	}
	buyer := nettest.Client(t, nw.Nodes[1])
	if err := nettest.Eventually(30*time.Second, 200*time.Millisecond, func() error {
		res, err := buyer.Search(ctx, api.SearchRequest{Description: "greets by the fuel"})
		if err != nil {
			return err
		}
		for _, a := range res.Agents {
			if a.Name == "meter" {
				if a.Price != strconv.Itoa(total) {
					t.Fatalf("card price %s, want %d", a.Price, total)
				}
				return nil
			}
		}
		return errors.New("meter not found yet")
	}); err != nil {
		t.Fatal(err)
	}

	before := env.Balance(t, env.PayTo)
	rc, err := buyer.CallAgent(ctx, seller, "meter", api.CallRequest{Args: []string{"fuel"}})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Output != "metered fuel\n" || rc.Payment == nil || rc.Payment.Amount != strconv.Itoa(total) || rc.Fuel == 0 || rc.Fuel > maxFuel {
		t.Fatalf("receipt: output %q, fuel %d, payment %+v", rc.Output, rc.Fuel, rc.Payment)
	}
	if _, err := client.VerifyReceipt(ctx, rc, nodetest.Verifiers(), attest.DevPolicy()); err != nil {
		t.Fatalf("the paid receipt does not verify: %v", err)
	}
	again, err := buyer.CallAgent(ctx, seller, "meter", api.CallRequest{Args: []string{"fuel"}})
	if err != nil || again.Fuel != rc.Fuel {
		t.Fatalf("same call again: %v, fuel %d then %d", err, rc.Fuel, again.Fuel)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != 2*total {
		t.Fatalf("pay_to gained %s for two calls, want %d", d, 2*total)
	}

	_, err = buyer.CallAgent(ctx, seller, "spinner", api.CallRequest{})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity || apiErr.Code != api.CodeOutOfFuel {
		t.Fatalf("spinner: %v, want 422 %s", err, api.CodeOutOfFuel)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != 2*total+30 {
		t.Fatalf("pay_to gained %s after the spinner, want %d: its fuel was spent", d, 2*total+30)
	}
}
