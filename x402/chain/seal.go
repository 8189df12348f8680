package chain

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime/trace"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/miner"
)

// sealLoop seals a block whenever transactions are pending (at most one
// per BlockPeriod, at most MaxLead ahead of the wall clock) and an empty
// one when the head is older than IdlePeriod. A chain clock that ran ahead
// during a burst gets no idle blocks, so the lead decays at one second per
// second.
func (c *Chain) sealLoop(ctx context.Context, txs <-chan core.NewTxsEvent, subErr <-chan error, unsubscribe func()) {
	defer close(c.done)
	defer unsubscribe()
	idle := time.NewTicker(c.cfg.IdlePeriod / 4)
	defer idle.Stop()
	var last time.Time
	for {
		pending, _ := c.eth.TxPool().Stats()
		if pending == 0 {
			select {
			case <-ctx.Done():
				return
			case <-subErr:
				return
			case <-txs:
			case <-idle.C:
				if time.Since(c.headTime()) < c.cfg.IdlePeriod {
					continue
				}
			}
		}
		if wait := c.cfg.BlockPeriod - time.Since(last); wait > 0 {
			if !sleep(ctx, wait) {
				return
			}
		}
		if lead := time.Until(c.headTime()); lead >= c.cfg.MaxLead {
			c.cfg.Logger.Debug("chain clock ahead, pausing", "lead", lead)
			if !sleep(ctx, lead-c.cfg.MaxLead+time.Second) {
				return
			}
		}
		// Events of transactions pending now are covered by this block.
		drain(txs)
		region := trace.StartRegion(ctx, "chain.seal")
		err := c.seal()
		region.End()
		if err != nil {
			// Not expected (the import checks what the builder made); a
			// second between attempts keeps a persistent failure from
			// spinning.
			c.cfg.Logger.Warn("seal block", "err", err)
			if !sleep(ctx, time.Second) {
				return
			}
		}
		last = time.Now()
	}
}

// seal builds one block of the pending transactions on the current head
// and imports it as the new head, final at once (one sealer, no reorgs).
//
// It does what go-ethereum's simulated beacon does through the engine API
// with one block execution fewer: the beacon's forkchoiceUpdated builds an
// empty payload and then a full one (each a block execution, with its
// system calls and state root), and newPayload executes the block again to
// import it. Here the block is built once and executed once more by the
// import, which also checks it (state root, receipts, gas) as for any
// block.
func (c *Chain) seal() error {
	bc := c.eth.BlockChain()
	parent := bc.CurrentBlock()
	timestamp := max(uint64(time.Now().Unix()), parent.Time+1)
	var random common.Hash
	_, _ = rand.Read(random[:])
	args := &miner.BuildPayloadArgs{
		Parent: parent.Hash(), Timestamp: timestamp, Random: random,
		Withdrawals: types.Withdrawals{}, BeaconRoot: &common.Hash{},
	}
	// With no transactions given, the builder fills the block from the
	// pool, as a payload build does.
	block, _, err := c.eth.Miner().BuildTestingPayload(args, nil, false, nil)
	if err != nil {
		return fmt.Errorf("build block %d: %w", parent.Number.Uint64()+1, err)
	}
	if _, err := bc.InsertChain(types.Blocks{block}); err != nil {
		return fmt.Errorf("import block %d: %w", block.NumberU64(), err)
	}
	bc.SetSafe(block.Header())
	bc.SetFinalized(block.Header())
	// The pool drops the block's transactions in the background; until it
	// has, it still counts them as pending, and the sealing loop would
	// seal an empty block after every full one (and the next build would
	// be offered them again).
	if err := c.eth.TxPool().Sync(); err != nil {
		return fmt.Errorf("sync pool: %w", err)
	}
	return nil
}

func drain(ch <-chan core.NewTxsEvent) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
