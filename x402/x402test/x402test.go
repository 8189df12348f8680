// Package x402test holds shared test helpers of the x402 packages: the
// spec's published EIP-3009 test vector and Env, a funded embedded chain
// with a deployed test token, for tests that settle for real.
package x402test

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/chain"
)

// The spec's test vector (x402 notes §10): a real signature on Base
// Sepolia's USDC domain.
var (
	VectorToken       = common.HexToAddress("0x036CbD53842c5426634e7929541eC2318f3dCF7e")
	VectorFrom        = common.HexToAddress("0x857b06519E91e3A54538791bDbb0E22373e36b66")
	VectorTo          = common.HexToAddress("0x209693Bc6afc0C5328bA36FaF03C514EF312287C")
	VectorNonce       = common.HexToHash("0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480")
	VectorDigest      = common.HexToHash("0xf256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6")
	VectorSignature   = "0x2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15092f9ecab05ded3d6293af148b571c"
	VectorValidAfter  = int64(1740672089)
	VectorValidBefore = int64(1740672154)
	// VectorWrongNameSigner is what the vector's signature recovers to
	// under the domain name "USD Coin" instead of "USDC".
	VectorWrongNameSigner = common.HexToAddress("0xED07B31Fa76779c7A25BA712fB1bFBECefa2ad7e")
)

// VectorRequirements returns the requirements the vector pays.
func VectorRequirements() x402.PaymentRequirements {
	return x402.PaymentRequirements{
		Scheme: x402.SchemeExact, Network: x402.NetworkBaseSepolia, Amount: "10000",
		Asset: VectorToken.Hex(), PayTo: VectorTo.Hex(), MaxTimeoutSeconds: 60,
		Extra: map[string]any{"name": "USDC", "version": "2"},
	}
}

// VectorPayload returns the vector as a v2 PaymentPayload.
func VectorPayload() x402.PaymentPayload {
	raw, err := x402.NewExactEVMPayload(x402.ExactEVMPayload{
		Signature: VectorSignature,
		Authorization: x402.Authorization{
			From: VectorFrom.Hex(), To: VectorTo.Hex(), Value: "10000",
			ValidAfter: "1740672089", ValidBefore: "1740672154", Nonce: VectorNonce.Hex(),
		},
	})
	if err != nil {
		panic(err)
	}
	return x402.PaymentPayload{X402Version: 2, Accepted: VectorRequirements(), Payload: raw}
}

// Env is a running embedded chain with a deployed token, a facilitator gas
// key with ETH, a payer with tokens, and a payee.
type Env struct {
	Chain    *chain.Chain
	Token    common.Address
	GasKey   *ecdsa.PrivateKey
	PayerKey *ecdsa.PrivateKey
	Payer    common.Address
	PayTo    common.Address
}

// PayerFunds is what NewEnv mints for the payer (100 tokens).
var PayerFunds = big.NewInt(100_000_000)

// NewEnv starts an Env; it is closed when the test ends.
func NewEnv(tb testing.TB, cfg chain.Config) *Env {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gas, _ := crypto.GenerateKey()
	payer, _ := crypto.GenerateKey()
	payee, _ := crypto.GenerateKey()
	e := &Env{GasKey: gas, PayerKey: payer, Payer: crypto.PubkeyToAddress(payer.PublicKey), PayTo: crypto.PubkeyToAddress(payee.PublicKey)}
	c, info, err := chain.Dev(ctx, chain.DevConfig{
		Chain: cfg, GasAddress: crypto.PubkeyToAddress(gas.PublicKey), GasFunds: new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether)),
		PayTo: e.PayTo, PayerKey: payer, PayerTokens: PayerFunds,
	})
	if err != nil {
		tb.Fatalf("start chain: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	e.Chain, e.Token = c, common.HexToAddress(info.Token)
	return e
}

// Requirements returns exact-scheme requirements paying amount of the
// token to PayTo on the env's chain.
func (e *Env) Requirements(amount string) x402.PaymentRequirements {
	return x402.PaymentRequirements{
		Scheme: x402.SchemeExact, Network: e.Chain.Network(), Amount: amount,
		Asset: e.Token.Hex(), PayTo: e.PayTo.Hex(), MaxTimeoutSeconds: 300,
		Extra: map[string]any{"name": chain.DefaultTokenName, "version": chain.DefaultTokenVersion},
	}
}

// Balance returns addr's token balance.
func (e *Env) Balance(tb testing.TB, addr common.Address) *big.Int {
	tb.Helper()
	b, err := e.Chain.TokenBalance(context.Background(), e.Token, addr)
	if err != nil {
		tb.Fatalf("balance: %v", err)
	}
	return b
}

// PayerKeyFile writes the funded payer's key to a hex key file (mode 0600)
// in a temporary directory, as a node's payer_key_file, and returns its path.
func (e *Env) PayerKeyFile(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "payer.key")
	if err := os.WriteFile(path, []byte(hexutil.Encode(crypto.FromECDSA(e.PayerKey))+"\n"), 0o600); err != nil {
		tb.Fatalf("write payer key: %v", err)
	}
	return path
}

// NewPayer returns a fresh key funded with tokens (and no ETH).
func (e *Env) NewPayer(tb testing.TB, tokens *big.Int) *ecdsa.PrivateKey {
	tb.Helper()
	k, _ := crypto.GenerateKey()
	if tokens != nil && tokens.Sign() > 0 {
		if err := e.Chain.Mint(context.Background(), e.Token, crypto.PubkeyToAddress(k.PublicKey), tokens); err != nil {
			tb.Fatalf("mint: %v", err)
		}
	}
	return k
}
