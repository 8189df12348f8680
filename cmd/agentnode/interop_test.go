package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

// interopDir is the npm project of the interop tests (the repository's
// interop/, installed by `npm ci --prefix interop`, which .ci/run and
// `make test` do).
func interopDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../interop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed: the interop tests need node >= 20 and `npm ci --prefix interop`")
	}
	for _, pkg := range []string{"@x402/fetch", "@x402/express", "@hpke/core", "@hpke/chacha20poly1305"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			t.Skipf("interop/node_modules lacks %s: run `npm ci --prefix interop`", pkg)
		}
	}
	return dir
}

// runNodeScript runs an interop script with dev.json's values and decodes the
// JSON line it prints into out.
func runNodeScript(t *testing.T, dir, script, devFile string, env []string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "AGENTNODE_DEV_JSON="+devFile), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), out); err != nil {
		t.Fatalf("node %s: %v\nstdout: %s\nstderr: %s", script, runErr, stdout.String(), stderr.String())
	}
	if runErr != nil {
		t.Fatalf("node %s failed: %v\nstdout: %s\nstderr: %s", script, runErr, stdout.String(), stderr.String())
	}
}

// TestInteropOfficialClientPaysBridge: the official x402 client
// (@x402/fetch + @x402/evm + viem) pays `agentnode dev`'s execution route
// on the embedded chain, for a request sealed in JavaScript with @hpke/core;
// the script checks the session's sim quote and binding, opens the result
// and checks its commitment (payment included) and signature. pay_to's
// balance rises by exactly the price.
func TestInteropOfficialClientPaysBridge(t *testing.T) {
	dir := interopDir(t)
	info, data := startDev(t)
	wasm := writeModule(t, wasmtest.EchoArgs)
	before := tokenBalance(t, info.RPCURL, info.Token, info.PayTo)
	var out struct {
		UnpaidStatus       int    `json:"unpaidStatus"`
		HasPaymentRequired bool   `json:"hasPaymentRequired"`
		Status             int    `json:"status"`
		Output             string `json:"output"`
		Error              string `json:"error"`
		Payer              string `json:"payer"`
		Payment            *struct {
			Transaction, Amount, Payer, Network, Nonce string
		} `json:"payment"`
		Settlement *struct {
			Success     bool   `json:"success"`
			Transaction string `json:"transaction"`
		} `json:"settlement"`
	}
	runNodeScript(t, dir, "exec-interop.mjs", filepath.Join(data, "dev.json"), []string{"WASM=" + wasm, `ARGS=["hello","from","js"]`}, &out)
	if out.Error != "" || out.UnpaidStatus != 402 || !out.HasPaymentRequired || out.Status != 200 || out.Output != "hello from js\n" {
		t.Fatalf("interop: %+v", out)
	}
	if out.Payment == nil || out.Settlement == nil || !out.Settlement.Success || out.Payment.Transaction != out.Settlement.Transaction ||
		out.Payment.Amount != "10000" || !strings.EqualFold(out.Payment.Payer, out.Payer) {
		t.Fatalf("payment %+v settlement %+v", out.Payment, out.Settlement)
	}
	if d := new(big.Int).Sub(tokenBalance(t, info.RPCURL, info.Token, info.PayTo), before); d.Int64() != devPrice {
		t.Fatalf("pay_to gained %s, want exactly %d", d, devPrice)
	}
}

// TestInteropOfficialExpressWithNodeFacilitator: the official
// @x402/express middleware, configured with the dev node's mounted
// facilitator (/facilitator), verifies and settles the official client's
// payment; pay_to's balance rises by exactly the route's price.
func TestInteropOfficialExpressWithNodeFacilitator(t *testing.T) {
	dir := interopDir(t)
	info, data := startDev(t)
	const price = 12345
	before := tokenBalance(t, info.RPCURL, info.Token, info.PayTo)
	var out struct {
		UnpaidStatus       int    `json:"unpaidStatus"`
		HasPaymentRequired bool   `json:"hasPaymentRequired"`
		Status             int    `json:"status"`
		Body               string `json:"body"`
		Error              string `json:"error"`
		Settlement         *struct {
			Success bool   `json:"success"`
			Network string `json:"network"`
		} `json:"settlement"`
	}
	runNodeScript(t, dir, "facilitator-interop.mjs", filepath.Join(data, "dev.json"),
		[]string{"FACILITATOR_URL=" + info.BridgeURL + "/facilitator", "PRICE=12345"}, &out)
	if out.Error != "" || out.UnpaidStatus != 402 || !out.HasPaymentRequired || out.Status != 200 || out.Body != `{"paid":"content"}` ||
		out.Settlement == nil || !out.Settlement.Success || out.Settlement.Network != "eip155:1337" {
		t.Fatalf("interop: %+v", out)
	}
	if d := new(big.Int).Sub(tokenBalance(t, info.RPCURL, info.Token, info.PayTo), before); d.Int64() != price {
		t.Fatalf("pay_to gained %s, want exactly %d", d, price)
	}
}
