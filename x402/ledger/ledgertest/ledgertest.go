// Package ledgertest provides a fake chain that implements ledger.Settler,
// for tests of the ledger and of the code that drives it. It models the
// one property recovery relies on: an EIP-3009 authorization can be used
// once, and the chain remembers it.
package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/agentnet/agentnode/x402/ledger"
)

// Chain is an in-memory chain of used authorizations. The zero value is
// ready to use and safe for concurrent use.
type Chain struct {
	mu sync.Mutex
	// used maps a key to the hash of the transaction that used it.
	used map[ledger.Key]string
	// sends counts every Settle call that reached the chain, including
	// ones that reverted because the authorization was already used.
	sends map[ledger.Key]int
	// CheckErr, if set, is returned by AuthorizationUsed.
	CheckErr error
	// SettleErr, if set, is returned by Settle without touching the chain.
	SettleErr error
	// Cancelled keys were cancelled by their payer: checking them or
	// settling them fails with ledger.ErrSettleRejected.
	Cancelled map[ledger.Key]bool
}

// Use marks k used by transaction tx, as a settlement sent before a crash
// would have.
func (c *Chain) Use(k ledger.Key, tx string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used == nil {
		c.used = make(map[ledger.Key]string)
	}
	c.used[k] = tx
}

// Settlements returns how many times k was used on chain: 0 or 1 on a
// real chain; more would mean a double charge.
func (c *Chain) Settlements(k ledger.Key) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.used[k]; ok {
		return 1
	}
	return 0
}

// Sends returns how many settlement transactions were sent for k.
func (c *Chain) Sends(k ledger.Key) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sends[k]
}

// AuthorizationUsed implements ledger.Settler.
func (c *Chain) AuthorizationUsed(ctx context.Context, e ledger.Entry) (bool, string, error) {
	if err := ctx.Err(); err != nil {
		return false, "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.CheckErr != nil {
		return false, "", c.CheckErr
	}
	if c.Cancelled[e.Key] {
		return false, "", fmt.Errorf("authorization cancelled by payer: %w", ledger.ErrSettleRejected)
	}
	tx, ok := c.used[e.Key]
	return ok, tx, nil
}

// ErrReplay is what Settle returns when the authorization was already
// used, like the token's "authorization is used or canceled" revert.
var ErrReplay = errors.New("authorization is used or canceled")

// Settle implements ledger.Settler.
func (c *Chain) Settle(ctx context.Context, e ledger.Entry) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.SettleErr != nil {
		return "", c.SettleErr
	}
	if c.sends == nil {
		c.sends = make(map[ledger.Key]int)
	}
	c.sends[e.Key]++
	if c.Cancelled[e.Key] {
		return "", fmt.Errorf("%w: %w", ErrReplay, ledger.ErrSettleRejected)
	}
	if c.used == nil {
		c.used = make(map[ledger.Key]string)
	}
	if _, ok := c.used[e.Key]; ok {
		return "", fmt.Errorf("%w: %w", ErrReplay, ledger.ErrSettleRejected)
	}
	tx := fmt.Sprintf("0x%064x", len(c.used)+1)
	c.used[e.Key] = tx
	return tx, nil
}
