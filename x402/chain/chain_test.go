package chain_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/agentnet/agentnode/x402/chain"
)

func TestStartRejectsNonLoopback(t *testing.T) {
	_, err := chain.Start(context.Background(), chain.Config{Addr: "0.0.0.0:0"})
	if !errors.Is(err, chain.ErrNotLoopback) {
		t.Fatalf("err = %v", err)
	}
}

func TestStartHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c, err := chain.Start(ctx, chain.Config{}); !errors.Is(err, context.Canceled) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("start with a cancelled context: %v", err)
	}
}

// The dev chain serves JSON-RPC over HTTP, deploys the token, funds
// accounts, and keeps its clock near the wall clock.
func TestDev(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gas, _ := crypto.GenerateKey()
	gasAddr := crypto.PubkeyToAddress(gas.PublicKey)
	c, info, err := chain.Dev(ctx, chain.DevConfig{GasAddress: gasAddr, BridgeURL: "http://127.0.0.1:3000"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	b, _ := json.Marshal(info)
	var fields map[string]any
	_ = json.Unmarshal(b, &fields)
	for _, k := range []string{"rpc_url", "chain_id", "network", "token", "token_name", "token_version", "pay_to", "payer_key", "bridge_url"} {
		if fields[k] == nil || fields[k] == "" {
			t.Errorf("dev.json lacks %s: %s", k, b)
		}
	}
	if info.Network != "eip155:1337" || info.ChainID != 1337 || info.PayTo != gasAddr.Hex() {
		t.Fatalf("info = %+v", info)
	}

	// Over real HTTP JSON-RPC, as any other client would see it.
	cl, err := ethclient.DialContext(ctx, info.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	id, err := cl.ChainID(ctx)
	if err != nil || id.Uint64() != 1337 {
		t.Fatalf("chain id = %v, %v", id, err)
	}
	bal, err := cl.BalanceAt(ctx, gasAddr, nil)
	if err != nil || bal.Cmp(chain.DefaultGasFunds) != 0 {
		t.Fatalf("gas key balance = %v, %v", bal, err)
	}
	payerKey, err := crypto.HexToECDSA(info.PayerKey[2:])
	if err != nil {
		t.Fatal(err)
	}
	tok := common.HexToAddress(info.Token)
	tb, err := c.TokenBalance(ctx, tok, crypto.PubkeyToAddress(payerKey.PublicKey))
	if err != nil || tb.Cmp(chain.DefaultPayerTokens) != 0 {
		t.Fatalf("payer token balance = %v, %v", tb, err)
	}
	n, ts := c.Head()
	if d := time.Since(ts); d > 5*time.Second || d < -chain.DefaultMaxLead {
		t.Fatalf("head timestamp %v is %v off the wall clock", ts, d)
	}
	// One sealer and no reorgs: every block is final at once, so clients
	// that read at "safe" or "finalized" see the head.
	for _, tag := range []rpc.BlockNumber{rpc.SafeBlockNumber, rpc.FinalizedBlockNumber} {
		h, err := cl.HeaderByNumber(ctx, big.NewInt(int64(tag)))
		if err != nil || h.Number.Uint64() < n {
			t.Fatalf("%v block = %v, %v; want the head (%d) or later", tag, h, err, n)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Concurrent faucet transactions share blocks instead of sealing one each.
func TestConcurrentFundsShareBlocks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := chain.Start(ctx, chain.Config{BlockPeriod: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start, _ := c.Head()
	const n = 40
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			k, _ := crypto.GenerateKey()
			errs <- c.Fund(ctx, crypto.PubkeyToAddress(k.PublicKey), big.NewInt(1), nil)
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	end, _ := c.Head()
	if blocks := end - start; blocks >= n/2 {
		t.Fatalf("%d transactions took %d blocks", n, blocks)
	}
	if _, err := c.Token(); !errors.Is(err, chain.ErrNoToken) {
		t.Fatalf("Token before deploy: %v", err)
	}
}
