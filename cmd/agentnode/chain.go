package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/x402/chain"
)

// devPrice is `agentnode dev`'s execution price: 0.01 of a 6-decimal
// token.
const devPrice = 10000

// Files of the development chain in a data dir.
const (
	devJSON    = "dev.json"
	devGasFile = "gas.key"
)

func runChain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("chain", stderr)
	addr := fs.String("rpc", "127.0.0.1:8545", "JSON-RPC listen address (loopback only)")
	maxLead := fs.Duration("max-lead", chain.DefaultMaxLead, "how far the chain's clock may run ahead of the wall clock under load; ask payers for a window at least a minute longer")
	dir := fs.String("dir", "", "directory for dev.json and gas.key (default: a new temporary directory)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := failer(stderr, "chain")
	if *dir == "" {
		var err error
		if *dir, err = os.MkdirTemp("", "agentnode-chain-"); err != nil {
			return fail("%v", err)
		}
	}
	ch, info, gasFile, err := startDevChain(ctx, *dir, chain.Config{Addr: *addr, MaxLead: *maxLead}, newLogger(stderr, *logLevel))
	if err != nil {
		return fail("%v", err)
	}
	defer ch.Close()
	if err := info.WriteFile(filepath.Join(*dir, devJSON)); err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stdout, `agentnode chain is running (an in-memory development EVM; its tokens are worth nothing)
  rpc:       %s
  chain id:  %d (%s)
  token:     %s (EIP-3009, EIP-712 name %q, version %q, 6 decimals)
  payer key: %s (holds %s token units, no ETH: EIP-3009 payers need none)
  gas key:   %s (holds ETH: a node settles payments with it)
  dev.json:  %s

A node that takes payments on this chain (node.toml):
  rpc_url = %q
  asset = %q
  pay_to = %q
  gas_key_file = %q
  price = %d
  facilitator = true

Ctrl-C stops the chain.
`, info.RPCURL, info.ChainID, info.Network, info.Token, info.TokenName, info.TokenVersion, info.PayerKey, chain.DefaultPayerTokens,
		gasFile, filepath.Join(*dir, devJSON), info.RPCURL, info.Token, info.PayTo, gasFile, devPrice)
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping")
	return 0
}

// startDevChain starts the embedded chain for `agentnode dev` and
// `agentnode chain`: the test token, a gas key (kept in dir, created on
// first use) funded with ETH and receiving payments, and a fresh demo
// payer funded with tokens. It returns the path of the gas key file; the
// caller writes dev.json (chain.DevInfo.WriteFile) once it knows all of it.
func startDevChain(ctx context.Context, dir string, cc chain.Config, log *slog.Logger) (*chain.Chain, chain.DevInfo, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, chain.DevInfo{}, "", fmt.Errorf("create %s: %w", dir, err)
	}
	gasFile := filepath.Join(dir, devGasFile)
	gas, err := client.LoadOrCreateKeyFile(gasFile)
	if err != nil {
		return nil, chain.DevInfo{}, "", err
	}
	addrOf := crypto.PubkeyToAddress(gas.PublicKey)
	cc.Logger = log
	ch, info, err := chain.Dev(ctx, chain.DevConfig{Chain: cc, GasAddress: addrOf})
	if err != nil {
		return nil, chain.DevInfo{}, "", fmt.Errorf("start dev chain: %w", err)
	}
	return ch, info, gasFile, nil
}

// devPayments sets cfg up to take payments on the dev chain: settled by
// the node itself over the in-process client, its facilitator served on
// the bridge.
func devPayments(cfg *node.Config, ch *chain.Chain, info chain.DevInfo, gasFile string) {
	cfg.RPC = ch.Client().Client()
	cfg.RPCURL = info.RPCURL
	cfg.Network = string(info.Network)
	cfg.Asset = info.Token
	cfg.TokenName, cfg.TokenVersion = info.TokenName, info.TokenVersion
	cfg.PayTo = info.PayTo
	cfg.GasKeyFile = gasFile
	cfg.Facilitator = true
}

// payerFlags are exec's payment flags.
type payerFlags struct {
	key, keyFile string
	maxPrice     string
}

// payer returns the payer the flags describe, nil when none was asked for.
func (f payerFlags) payer() (*client.Payer, error) {
	if f.key == "" && f.keyFile == "" {
		if f.maxPrice != "" {
			return nil, errors.New("--max-price limits payments: give --pay-key or --pay-key-file too")
		}
		return nil, nil
	}
	if f.key != "" && f.keyFile != "" {
		return nil, errors.New("give --pay-key or --pay-key-file, not both")
	}
	if f.maxPrice == "" {
		return nil, errors.New("give --max-price: the most one execution may cost, in the token's atomic units")
	}
	maxPrice, ok := new(big.Int).SetString(f.maxPrice, 10)
	if !ok || maxPrice.Sign() < 0 {
		return nil, fmt.Errorf("--max-price %q: want a non-negative integer of atomic units", f.maxPrice)
	}
	p := &client.Payer{MaxPrice: maxPrice}
	var err error
	if f.key != "" {
		if p.Key, err = client.ParseKey(f.key); err != nil {
			return nil, fmt.Errorf("--pay-key: %w", err)
		}
		return p, nil
	}
	key, dev, err := client.ReadKeyFile(f.keyFile)
	if err != nil {
		return nil, fmt.Errorf("--pay-key-file: %w", err)
	}
	p.Key = key
	if dev != nil {
		a, err := dev.Asset()
		if err != nil {
			return nil, fmt.Errorf("--pay-key-file: %w", err)
		}
		p.Assets = append(p.Assets, a)
	}
	return p, nil
}

// checkSettlement checks a receipt's payment on the chain at rpcURL.
func checkSettlement(ctx context.Context, rpcURL string, rc *client.Receipt) (*client.Settlement, error) {
	ec, err := ethclient.DialContext(ctx, rpcURL)
	if err != nil {
		return nil, fmt.Errorf("dial --rpc: %w", err)
	}
	defer ec.Close()
	return client.CheckSettlement(ctx, ec, rc)
}

// printDevPayments tells a dev node's user how to pay it.
func printDevPayments(w io.Writer, bridge, dir string, price uint64, info chain.DevInfo) {
	devFile := filepath.Join(dir, devJSON)
	fmt.Fprintf(w, `
Payments (x402 on the embedded chain; its tokens are worth nothing):
  chain:    %s (%s), token %s
  pay_to:   %s
  dev.json: %s (the chain's values and a funded demo payer's key)
`, info.RPCURL, info.Network, info.Token, info.PayTo, devFile)
	if price == 0 {
		fmt.Fprintf(w, "  price:    0: executions are free (--price sets one); the facilitator is at %s/facilitator\n", bridge)
		return
	}
	fmt.Fprintf(w, `  price:    %[1]d atomic units per execution; the facilitator is at %[2]s/facilitator

  # Pay for an execution (the receipt shows the settlement; --rpc checks it on chain):
  go run ./cmd/agentnode exec --node %[2]s --allow-sim --pay-key-file %[3]s --max-price %[1]d \
      --wasm enclave/wasm/wasmtest/testdata/echo_args.wasm --arg paid
  go run ./cmd/agentnode exec --node %[2]s --allow-sim --pay-key %[4]s --max-price %[1]d --json \
      --wasm enclave/wasm/wasmtest/testdata/echo_args.wasm --arg paid > receipt.json
  go run ./cmd/agentnode receipt verify receipt.json --allow-sim --rpc %[5]s
`, price, bridge, devFile, info.PayerKey, info.RPCURL)
}
