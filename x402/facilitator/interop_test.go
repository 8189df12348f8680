package facilitator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/agentnet/agentnode/x402/chain"
)

// interopDir is the npm project of the interop tests (repository root's
// interop/, installed by `npm ci` there).
func interopDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../interop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed: the interop tests need node >= 20 and `npm ci` in interop/")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@x402", "express")); err != nil {
		t.Skip("interop/node_modules missing: run `npm ci` in interop/")
	}
	return dir
}

// TestInteropOfficialExpress: the official @x402/express middleware,
// configured with our facilitator's URL, verifies and settles a payment
// made by the official @x402/fetch + @x402/evm + viem client on the
// embedded chain; the payee's balance rises by exactly the price.
func TestInteropOfficialExpress(t *testing.T) {
	dir := interopDir(t)
	s := newStack(t)
	const price = 12345
	before := s.env.Balance(t, s.env.PayTo)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "facilitator-interop.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"FACILITATOR_URL="+s.server.URL+"/facilitator",
		"PRICE="+strconv.Itoa(price),
		"RPC_URL="+s.env.Chain.RPCURL(),
		"CHAIN_ID="+strconv.FormatUint(s.env.Chain.ChainID(), 10),
		"NETWORK="+string(s.env.Chain.Network()),
		"TOKEN="+s.env.Token.Hex(),
		"TOKEN_NAME="+chain.DefaultTokenName,
		"TOKEN_VERSION="+chain.DefaultTokenVersion,
		"PAY_TO="+s.env.PayTo.Hex(),
		"PAYER_KEY="+hexutil.Encode(crypto.FromECDSA(s.env.PayerKey)),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var out struct {
		UnpaidStatus       int    `json:"unpaidStatus"`
		HasPaymentRequired bool   `json:"hasPaymentRequired"`
		Status             int    `json:"status"`
		Body               string `json:"body"`
		Payer              string `json:"payer"`
		Error              string `json:"error"`
		Settlement         *struct {
			Success     bool   `json:"success"`
			Transaction string `json:"transaction"`
			Network     string `json:"network"`
			Payer       string `json:"payer"`
		} `json:"settlement"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &out); err != nil {
		t.Fatalf("node: %v\nstdout: %s\nstderr: %s", runErr, stdout.String(), stderr.String())
	}
	if runErr != nil || out.Error != "" {
		t.Fatalf("node failed: %v %s\nstdout: %s\nstderr: %s", runErr, out.Error, stdout.String(), stderr.String())
	}
	if out.UnpaidStatus != 402 || !out.HasPaymentRequired {
		t.Fatalf("unpaid request: status %d, PAYMENT-REQUIRED %v", out.UnpaidStatus, out.HasPaymentRequired)
	}
	if out.Status != 200 || out.Body != `{"paid":"content"}` || out.Settlement == nil || !out.Settlement.Success {
		t.Fatalf("paid request: %+v", out)
	}
	if out.Settlement.Network != "eip155:1337" || out.Payer != s.env.Payer.Hex() || len(out.Settlement.Transaction) != 66 {
		t.Fatalf("settlement: %+v payer %s", out.Settlement, out.Payer)
	}
	if d := new(big.Int).Sub(s.env.Balance(t, s.env.PayTo), before); d.Int64() != price {
		t.Fatalf("payee gained %s, want %d", d, price)
	}
}
