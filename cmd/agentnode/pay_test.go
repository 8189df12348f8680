package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
)

// startDev runs `agentnode dev` in process until the test ends and
// returns its dev.json, once the node serves.
func startDev(t *testing.T, args ...string) (client.DevInfo, string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stdout, stderr nodetest.Buffer
	go func() {
		done <- run(ctx, append([]string{"dev", "--http", "127.0.0.1:0", "--data", dir, "--log-level", "error"}, args...), &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("dev exited %d: %s", code, stderr.String())
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var info client.DevInfo
		if b, err := os.ReadFile(filepath.Join(dir, "dev.json")); err == nil && json.Unmarshal(b, &info) == nil && info.BridgeURL != "" {
			for !strings.Contains(stdout.String(), "Payments") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			return info, dir
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("dev exited %d before serving: %s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev wrote no dev.json with a bridge URL: %s %s", stdout.String(), stderr.String())
		}
	}
}

func tokenBalance(t *testing.T, rpcURL, token, addr string) *big.Int {
	t.Helper()
	ec, err := ethclient.Dial(rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	tok := common.HexToAddress(token)
	data := append([]byte{0x70, 0xa0, 0x82, 0x31}, common.LeftPadBytes(common.HexToAddress(addr).Bytes(), 32)...) // balanceOf(address)
	out, err := ec.CallContract(context.Background(), ethCall(tok, data), nil)
	if err != nil {
		t.Fatal(err)
	}
	return new(big.Int).SetBytes(out)
}

func TestDevPaidExec(t *testing.T) {
	info, dir := startDev(t)
	devFile := filepath.Join(dir, "dev.json")
	st, err := os.Stat(devFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("dev.json mode: %v %v", st, err)
	}
	var fields map[string]any
	b, _ := os.ReadFile(devFile)
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	want := []string{"bridge_url", "chain_id", "network", "pay_to", "payer_key", "rpc_url", "token", "token_name", "token_version"}
	var got []string
	for k := range fields {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) || info.Network != "eip155:1337" || info.ChainID != 1337 {
		t.Fatalf("dev.json fields %v (%+v)", got, info)
	}
	echo := writeModule(t, wasmtest.EchoArgs)
	base := []string{"exec", "--node", info.BridgeURL, "--allow-sim", "--wasm", echo, "--arg", "paid"}

	// Without a payer: one line naming the price and how to pay.
	code, out, errOut := runCmd(t, base...)
	if code != 1 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 ||
		!strings.Contains(errOut, "payment required: 10000 atomic units of token "+info.Token) || !strings.Contains(errOut, "--pay-key-file") {
		t.Fatalf("unpaid: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, append(base, "--pay-key", info.PayerKey, "--max-price", "9999")...); code != 1 || !strings.Contains(errOut, "over the max price 9999") {
		t.Fatalf("over max price: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCmd(t, append(base, "--pay-key-file", devFile)...); code != 1 || !strings.Contains(errOut, "--max-price") {
		t.Fatalf("no max price: exit %d, stderr %q", code, errOut)
	}

	before := tokenBalance(t, info.RPCURL, info.Token, info.PayTo)
	code, out, errOut = runCmd(t, append(base, "--pay-key-file", devFile, "--max-price", "10000")...)
	if code != 0 || out != "paid\n" || !strings.Contains(errOut, "paid 10000 on eip155:1337") {
		t.Fatalf("paid: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCmd(t, append(base, "--pay-key", info.PayerKey, "--max-price", "10000", "--json")...)
	if code != 0 {
		t.Fatalf("paid --json: exit %d: %s", code, errOut)
	}
	if d := new(big.Int).Sub(tokenBalance(t, info.RPCURL, info.Token, info.PayTo), before); d.Int64() != 2*devPrice {
		t.Fatalf("pay_to gained %s after two paid runs", d)
	}
	var rc client.Receipt
	if err := json.Unmarshal([]byte(out), &rc); err != nil || rc.Payment == nil || len(rc.Payment.Transaction) != 66 || rc.Payment.Amount != "10000" ||
		rc.PaymentRequirements == nil || !strings.EqualFold(rc.PaymentRequirements.PayTo, info.PayTo) {
		t.Fatalf("receipt payment: %+v %v", rc.Payment, err)
	}
	receipt := writeFile(t, "receipt.json", []byte(out))
	code, out, errOut = runCmd(t, "receipt", "verify", receipt, "--allow-sim", "--rpc", info.RPCURL)
	if code != 0 || !strings.Contains(out, "settlement:   checked on chain: transaction "+rc.Payment.Transaction) ||
		!strings.Contains(strings.ToLower(out), strings.ToLower(info.PayTo)) {
		t.Fatalf("receipt verify --rpc: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runCmd(t, "receipt", "verify", receipt, "--allow-sim"); code != 0 || !strings.Contains(out, "settlement not checked") {
		t.Fatalf("receipt verify without --rpc: exit %d\n%s", code, out)
	}
	// A receipt that claims another amount or transaction fails on chain
	// (the commitment binds only network, payer and nonce).
	for name, mut := range map[string]func(*client.Receipt){
		"amount":      func(r *client.Receipt) { r.Payment.Amount, r.PaymentRequirements.Amount = "20000", "20000" },
		"transaction": func(r *client.Receipt) { r.Payment.Transaction = "0x" + strings.Repeat("ab", 32) },
		"recipient":   func(r *client.Receipt) { r.PaymentRequirements.PayTo = info.Token },
	} {
		forged := rc
		p, req := *rc.Payment, *rc.PaymentRequirements
		forged.Payment, forged.PaymentRequirements = &p, &req
		mut(&forged)
		b, _ := json.Marshal(forged)
		if code, _, errOut := runCmd(t, "receipt", "verify", writeFile(t, "forged.json", b), "--allow-sim", "--rpc", info.RPCURL); code != 1 || !strings.Contains(errOut, "check settlement") {
			t.Errorf("forged %s: exit %d, stderr %q", name, code, errOut)
		}
	}
}

func TestDevPriceZeroIsFree(t *testing.T) {
	info, _ := startDev(t, "--price", "0")
	code, out, errOut := runCmd(t, "exec", "--node", info.BridgeURL, "--allow-sim", "--wasm", writeModule(t, wasmtest.EchoArgs), "--arg", "free")
	if code != 0 || out != "free\n" || strings.Contains(errOut, "paid") {
		t.Fatalf("free dev node: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestChainCommand(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stdout, stderr nodetest.Buffer
	go func() { done <- run(ctx, []string{"chain", "--rpc", "127.0.0.1:0", "--dir", dir}, &stdout, &stderr) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("chain exited %d: %s", code, stderr.String())
		}
	}()
	re := regexp.MustCompile(`rpc:\s+(http://\S+)`)
	var m []string
	for deadline := time.Now().Add(time.Minute); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = re.FindStringSubmatch(stdout.String())
	}
	if m == nil {
		t.Fatalf("chain printed no RPC URL: %s %s", stdout.String(), stderr.String())
	}
	key, dev, err := client.ReadKeyFile(filepath.Join(dir, "dev.json"))
	if err != nil || dev.RPCURL != m[1] {
		t.Fatalf("dev.json: %+v %v", dev, err)
	}
	if _, _, err := client.ReadKeyFile(filepath.Join(dir, "gas.key")); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, want := range []string{"chain id:  1337", dev.Token, dev.PayerKey, fmt.Sprintf("gas_key_file = %q", filepath.Join(dir, "gas.key"))} {
		if !strings.Contains(out, want) {
			t.Errorf("chain output lacks %q:\n%s", want, out)
		}
	}
	if bal := tokenBalance(t, dev.RPCURL, dev.Token, addressOf(key)); bal.Sign() <= 0 {
		t.Fatalf("demo payer holds %s", bal)
	}
}

func ethCall(to common.Address, data []byte) ethereum.CallMsg {
	return ethereum.CallMsg{To: &to, Data: data}
}

func addressOf(key *ecdsa.PrivateKey) string { return crypto.PubkeyToAddress(key.PublicKey).Hex() }
