package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/agentnet/agentnode/x402/chain/token"
)

// DeployToken deploys a TestToken with the given EIP-712 name and version
// (Base Sepolia's USDC uses "USDC" and "2"), owned by the faucet, and makes
// it the token Fund mints.
func (c *Chain) DeployToken(ctx context.Context, name, version string) (common.Address, error) {
	code, err := token.Bytecode()
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy token: %w", err)
	}
	data := append(code, token.NewTestToken().PackConstructor(name, version)...)
	rcpt, err := c.send(ctx, nil, nil, data)
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy token: %w", err)
	}
	c.mu.Lock()
	c.token = rcpt.ContractAddress
	c.mu.Unlock()
	c.cfg.Logger.Info("token deployed", "address", rcpt.ContractAddress, "name", name, "version", version)
	return rcpt.ContractAddress, nil
}

// Token returns the token Fund mints (the last one deployed).
func (c *Chain) Token() (common.Address, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == (common.Address{}) {
		return common.Address{}, ErrNoToken
	}
	return c.token, nil
}

// Fund sends wei of ETH (for gas) and mints tokens atomic units of the
// current token to addr. Either amount may be nil or zero.
func (c *Chain) Fund(ctx context.Context, addr common.Address, wei, tokens *big.Int) error {
	if wei != nil && wei.Sign() > 0 {
		if _, err := c.send(ctx, &addr, wei, nil); err != nil {
			return fmt.Errorf("fund %s with ETH: %w", addr, err)
		}
	}
	if tokens != nil && tokens.Sign() > 0 {
		tok, err := c.Token()
		if err != nil {
			return fmt.Errorf("fund %s with tokens: %w", addr, err)
		}
		if err := c.Mint(ctx, tok, addr, tokens); err != nil {
			return fmt.Errorf("fund %s: %w", addr, err)
		}
	}
	return nil
}

// Mint creates amount atomic units of tok for to.
func (c *Chain) Mint(ctx context.Context, tok, to common.Address, amount *big.Int) error {
	if _, err := c.send(ctx, &tok, nil, token.NewTestToken().PackMint(to, amount)); err != nil {
		return fmt.Errorf("mint %s on %s: %w", amount, tok, err)
	}
	return nil
}

// TokenBalance returns the balance of addr in tok, at the head block.
func (c *Chain) TokenBalance(ctx context.Context, tok, addr common.Address) (*big.Int, error) {
	t := token.NewTestToken()
	out, err := c.client.CallContract(ctx, ethereum.CallMsg{To: &tok, Data: t.PackBalanceOf(addr)}, nil)
	if err != nil {
		return nil, fmt.Errorf("balance of %s in %s: %w", addr, tok, err)
	}
	bal, err := t.UnpackBalanceOf(out)
	if err != nil {
		return nil, fmt.Errorf("balance of %s in %s: %w", addr, tok, err)
	}
	return bal, nil
}

// send signs a faucet transaction, submits it and waits for its receipt.
// The faucet's nonce is kept in memory; only submission is serialized, so
// concurrent sends share blocks.
func (c *Chain) send(ctx context.Context, to *common.Address, value *big.Int, data []byte) (*types.Receipt, error) {
	from := crypto.PubkeyToAddress(c.faucet.PublicKey)
	gas, err := c.client.EstimateGas(ctx, ethereum.CallMsg{From: from, To: to, Value: value, Data: data})
	if err != nil {
		return nil, fmt.Errorf("estimate gas: %w", err)
	}
	tip, err := c.client.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, fmt.Errorf("suggest tip: %w", err)
	}
	head := c.eth.BlockChain().CurrentBlock()
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	if value == nil {
		value = new(big.Int)
	}

	c.mu.Lock()
	tx, err := types.SignNewTx(c.faucet, c.signer, &types.DynamicFeeTx{
		ChainID: big.NewInt(ChainID), Nonce: c.faucetNonce, GasTipCap: tip, GasFeeCap: feeCap,
		Gas: gas + gas/5, To: to, Value: value, Data: data,
	})
	if err == nil {
		err = c.client.SendTransaction(ctx, tx)
	}
	if err == nil {
		c.faucetNonce++
	}
	c.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("send transaction: %w", err)
	}

	rcpt, err := c.waitReceipt(ctx, tx.Hash())
	if err != nil {
		return nil, err
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		return rcpt, fmt.Errorf("transaction %s: %w", tx.Hash(), ErrReverted)
	}
	return rcpt, nil
}

// waitReceipt polls the in-process client for a receipt; the sealer mines
// within milliseconds, so a short poll costs little.
func (c *Chain) waitReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	for {
		rcpt, err := c.client.TransactionReceipt(ctx, hash)
		if err == nil {
			return rcpt, nil
		}
		// A fresh node may still be building its transaction index.
		if !errors.Is(err, ethereum.NotFound) && !strings.Contains(err.Error(), "indexing is in progress") {
			return nil, fmt.Errorf("receipt of %s: %w", hash, err)
		}
		if !sleep(ctx, 2*time.Millisecond) {
			return nil, fmt.Errorf("receipt of %s: %w", hash, ctx.Err())
		}
	}
}
