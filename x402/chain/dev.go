package chain

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/agentnet/agentnode/internal/jsonfile"
	"github.com/agentnet/agentnode/x402"
)

// Defaults of DevConfig.
const (
	DefaultTokenName    = "USDC"
	DefaultTokenVersion = "2"
)

// DefaultPayerTokens is what Dev mints for the demo payer: 1000 tokens of
// 6 decimals, i.e. 100,000 payments at the default price of 10000.
var DefaultPayerTokens = big.NewInt(1000_000_000)

// DefaultGasFunds is the ETH Dev sends to the node's gas key (100 ETH).
var DefaultGasFunds = new(big.Int).Mul(big.NewInt(100), big.NewInt(params.Ether))

// DevConfig configures Dev.
type DevConfig struct {
	// Chain configures the embedded chain.
	Chain Config
	// TokenName and TokenVersion are the token's EIP-712 domain. Defaults
	// "USDC" and "2", as Base Sepolia's USDC.
	TokenName, TokenVersion string
	// GasAddress is the node's gas key, which settles payments; Dev funds
	// it with GasFunds of ETH. Zero skips it.
	GasAddress common.Address
	// GasFunds defaults to DefaultGasFunds.
	GasFunds *big.Int
	// PayTo receives the payments. Defaults to GasAddress.
	PayTo common.Address
	// PayerKey is the demo payer; nil generates one. Dev mints it
	// PayerTokens (default DefaultPayerTokens) and no ETH: EIP-3009 payers
	// need none.
	PayerKey    *ecdsa.PrivateKey
	PayerTokens *big.Int
	// BridgeURL is copied into DevInfo for the clients that read dev.json.
	BridgeURL string
}

// DevInfo is the content of dev.json: what a client needs to pay the dev
// node. PayerKey is a 0x-prefixed hex secp256k1 key, the form viem and
// go-ethereum tools take; it is a throwaway key of a throwaway chain.
type DevInfo struct {
	RPCURL       string       `json:"rpc_url"`
	ChainID      uint64       `json:"chain_id"`
	Network      x402.Network `json:"network"`
	Token        string       `json:"token"`
	TokenName    string       `json:"token_name"`
	TokenVersion string       `json:"token_version"`
	PayTo        string       `json:"pay_to"`
	PayerKey     string       `json:"payer_key"`
	BridgeURL    string       `json:"bridge_url"`
}

// Dev starts a chain and prepares it for `agentnode dev`: it deploys the
// token, funds the gas key with ETH and the payer with tokens, and returns
// the values of dev.json. On error nothing is left running.
func Dev(ctx context.Context, cfg DevConfig) (*Chain, DevInfo, error) {
	if cfg.TokenName == "" {
		cfg.TokenName = DefaultTokenName
	}
	if cfg.TokenVersion == "" {
		cfg.TokenVersion = DefaultTokenVersion
	}
	if cfg.GasFunds == nil {
		cfg.GasFunds = DefaultGasFunds
	}
	if cfg.PayerTokens == nil {
		cfg.PayerTokens = DefaultPayerTokens
	}
	if cfg.PayTo == (common.Address{}) {
		cfg.PayTo = cfg.GasAddress
	}
	if cfg.PayTo == (common.Address{}) {
		return nil, DevInfo{}, errors.New("start dev chain: no PayTo or GasAddress given")
	}
	if cfg.PayerKey == nil {
		k, err := crypto.GenerateKey()
		if err != nil {
			return nil, DevInfo{}, fmt.Errorf("start dev chain: generate payer key: %w", err)
		}
		cfg.PayerKey = k
	}
	c, err := Start(ctx, cfg.Chain)
	if err != nil {
		return nil, DevInfo{}, err
	}
	fail := func(err error) (*Chain, DevInfo, error) {
		return nil, DevInfo{}, errors.Join(fmt.Errorf("start dev chain: %w", err), c.Close())
	}
	tok, err := c.DeployToken(ctx, cfg.TokenName, cfg.TokenVersion)
	if err != nil {
		return fail(err)
	}
	if cfg.GasAddress != (common.Address{}) {
		if err := c.Fund(ctx, cfg.GasAddress, cfg.GasFunds, nil); err != nil {
			return fail(err)
		}
	}
	payer := crypto.PubkeyToAddress(cfg.PayerKey.PublicKey)
	if err := c.Fund(ctx, payer, nil, cfg.PayerTokens); err != nil {
		return fail(err)
	}
	return c, DevInfo{
		RPCURL:       c.RPCURL(),
		ChainID:      c.ChainID(),
		Network:      c.Network(),
		Token:        tok.Hex(),
		TokenName:    cfg.TokenName,
		TokenVersion: cfg.TokenVersion,
		PayTo:        cfg.PayTo.Hex(),
		PayerKey:     "0x" + hex.EncodeToString(crypto.FromECDSA(cfg.PayerKey)),
		BridgeURL:    cfg.BridgeURL,
	}, nil
}

// WriteFile writes the DevInfo as JSON to path (dev.json), readable by its
// owner only, since it holds the demo payer's key; the file is replaced
// whole, so a reader never sees half of it.
func (d DevInfo) WriteFile(path string) error {
	return jsonfile.Write(path, d)
}
