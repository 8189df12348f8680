package evm

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/x402test"
)

// A waiter gets its receipt whether its transaction's block came before
// it registered (looked up at once) or after (looked up at the new head),
// with no idle block and no polling to rescue a missed lookup.
func TestWaiterGetsReceiptBeforeOrAfterItsBlock(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{IdlePeriod: time.Hour})
	ctx := context.Background()
	s, err := NewSettler(ctx, SettlerConfig{RPC: env.Chain.Client().Client(), Key: env.GasKey, PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ec := env.Chain.Client()
	from := crypto.PubkeyToAddress(env.GasKey.PublicKey)
	signer := types.LatestSignerForChainID(big.NewInt(chain.ChainID))
	transfer := func(t *testing.T) *types.Transaction {
		t.Helper()
		nonce, err := ec.PendingNonceAt(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		to := crypto.PubkeyToAddress(env.PayerKey.PublicKey)
		tx, err := types.SignNewTx(env.GasKey, signer, &types.DynamicFeeTx{ChainID: big.NewInt(chain.ChainID), Nonce: nonce,
			GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(1e12), Gas: 21000, To: &to, Value: big.NewInt(1)})
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	liveHead := func(t *testing.T) uint64 {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if h, live := s.watcher.currentHead(); live {
				return h
			}
		}
		t.Fatal("no head notifications")
		return 0
	}
	receive := func(t *testing.T, ch chan *types.Receipt, tx *types.Transaction) {
		t.Helper()
		select {
		case r := <-ch:
			if r.TxHash != tx.Hash() || r.Status != types.ReceiptStatusSuccessful {
				t.Fatalf("receipt %s status %d, want %s succeeded", r.TxHash, r.Status, tx.Hash())
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no receipt")
		}
	}

	// A first block after the settler subscribed gives the watcher a head.
	if err := env.Chain.Fund(ctx, crypto.PubkeyToAddress(env.PayerKey.PublicKey), big.NewInt(1), nil); err != nil {
		t.Fatal(err)
	}
	t.Run("block before the wait", func(t *testing.T) {
		sentAt := liveHead(t)
		tx := transfer(t)
		if err := ec.SendTransaction(ctx, tx); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			if h, _ := s.watcher.currentHead(); h > sentAt {
				if r, err := ec.TransactionReceipt(ctx, tx.Hash()); err == nil && r != nil {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("the transaction was not mined")
			}
		}
		ch := s.watcher.wait(tx.Hash(), sentAt)
		defer s.watcher.cancel(tx.Hash(), ch)
		receive(t, ch, tx)
	})
	t.Run("block after the wait", func(t *testing.T) {
		sentAt := liveHead(t)
		tx := transfer(t)
		ch := s.watcher.wait(tx.Hash(), sentAt)
		defer s.watcher.cancel(tx.Hash(), ch)
		if err := ec.SendTransaction(ctx, tx); err != nil {
			t.Fatal(err)
		}
		receive(t, ch, tx)
	})
}
