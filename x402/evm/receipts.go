package evm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/agentnet/agentnode/x402"
)

// watcher collects receipts for every waiting settlement with one
// JSON-RPC batch per new block, instead of one polling loop per
// settlement: with many settlements in flight that is the difference
// between a handful and thousands of calls per second.
type watcher struct {
	client   *ethclient.Client
	interval time.Duration
	log      *slog.Logger
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}

	// head is the number of the last new head notified; live says the
	// notifications flow (a subscription, not polling), so that head is
	// the chain's current head within the notification's delay.
	head atomic.Uint64
	live atomic.Bool

	// mu guards waiters.
	mu      sync.Mutex
	waiters map[common.Hash][]chan *types.Receipt
}

// currentHead returns the chain's head as notified, and whether head
// notifications flow.
func (w *watcher) currentHead() (uint64, bool) {
	n := w.head.Load()
	return n, w.live.Load() && n != 0
}

func newWatcher(client *ethclient.Client, interval time.Duration, log *slog.Logger) *watcher {
	w := &watcher{
		client:   client,
		interval: interval,
		log:      log,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		waiters:  make(map[common.Hash][]chan *types.Receipt),
	}
	go w.run()
	return w
}

func (w *watcher) close() {
	close(w.stop)
	<-w.done
}

// wait registers interest in hash's receipt. sentAt is the head
// currentHead gave before the transaction was sent (0: unknown). While
// head notifications flow, a receipt is looked for at each new head, so
// one is looked for at once only when a block came between the send and
// this registration: the rest of the time that lookup, one RPC batch per
// settlement, could only find nothing.
func (w *watcher) wait(hash common.Hash, sentAt uint64) chan *types.Receipt {
	ch := make(chan *types.Receipt, 1)
	w.mu.Lock()
	w.waiters[hash] = append(w.waiters[hash], ch)
	w.mu.Unlock()
	// If collect took its list of waiters before this registration, the
	// head it collected for was stored before that, so it is seen here.
	if head, live := w.currentHead(); live && sentAt != 0 && head == sentAt {
		return ch
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return ch
}

// cancel withdraws a wait.
func (w *watcher) cancel(hash common.Hash, ch chan *types.Receipt) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.waiters[hash]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.waiters, hash)
	} else {
		w.waiters[hash] = list
	}
}

func (w *watcher) run() {
	defer close(w.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	// New-head notifications where the transport has them (in-process,
	// WebSocket); polling otherwise.
	heads := make(chan *types.Header, 16)
	var headErr <-chan error
	if sub, err := w.client.SubscribeNewHead(ctx, heads); err == nil {
		defer sub.Unsubscribe()
		headErr = sub.Err()
		w.live.Store(true)
		defer w.live.Store(false)
	} else if !errors.Is(err, rpc.ErrNotificationsUnsupported) {
		w.log.Warn("subscribe to new heads, polling instead", "err", err)
	}
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	var lastBlock uint64
	for {
		fresh := false // a new waiter: look even without a new block
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
			fresh = true
		case h := <-heads:
			w.head.Store(h.Number.Uint64())
			fresh = true
		case <-headErr:
			w.live.Store(false)
			headErr = nil
		case <-ticker.C:
		}
		if w.pending() == 0 {
			continue
		}
		if !fresh || headErr == nil {
			n, err := w.client.BlockNumber(ctx)
			if err != nil {
				w.log.Warn("poll block number", "err", err)
				continue
			}
			if n == lastBlock && !fresh {
				continue
			}
			lastBlock = n
		}
		w.collect(ctx)
	}
}

func (w *watcher) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waiters)
}

// collect asks for the receipts of every waiting transaction in one batch.
func (w *watcher) collect(ctx context.Context) {
	w.mu.Lock()
	hashes := make([]common.Hash, 0, len(w.waiters))
	for h := range w.waiters {
		hashes = append(hashes, h)
	}
	w.mu.Unlock()
	receipts := make([]*types.Receipt, len(hashes))
	batch := make([]rpc.BatchElem, len(hashes))
	for i, h := range hashes {
		batch[i] = rpc.BatchElem{Method: "eth_getTransactionReceipt", Args: []any{h}, Result: &receipts[i]}
	}
	if err := w.client.Client().BatchCallContext(ctx, batch); err != nil {
		w.log.Warn("fetch receipts", "err", err, "count", len(hashes))
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, r := range receipts {
		if batch[i].Error != nil || r == nil {
			continue // not mined yet (or the node is still indexing)
		}
		for _, ch := range w.waiters[hashes[i]] {
			ch <- r
		}
		delete(w.waiters, hashes[i])
	}
}

// await waits for hash's receipt and maps it to the settlement outcome;
// sentAt is the head before hash was sent, 0 when unknown (see wait).
func (s *Settler) await(ctx context.Context, key authKey, hash common.Hash, sentAt uint64, c Checked, req x402.PaymentRequirements) (x402.SettleResponse, error) {
	defer trace.StartRegion(ctx, "evm.receipt").End()
	ch := s.watcher.wait(hash, sentAt)
	defer s.watcher.cancel(hash, ch)
	timer := time.NewTimer(s.cfg.ReceiptTimeout)
	defer timer.Stop()
	pending := x402.SettleResponse{
		Success: false, ErrorReason: x402.ReasonSettlementPending, ErrorMessage: "no receipt yet; reconcile later",
		Payer: c.From.Hex(), Transaction: hash.Hex(), Network: req.Network,
	}
	select {
	case r := <-ch:
		resp := s.outcome(r, c, req)
		if r.Status != types.ReceiptStatusSuccessful {
			// Reverted: perhaps because a transaction ahead of it in the
			// block used this very authorization, which paid the payee.
			if earlier, err := s.findEarlier(ctx, c, req); err == nil && earlier.Success {
				return earlier, nil
			}
		}
		if !resp.Success {
			s.settled.Remove(key) // a failed transaction may be retried
		}
		return resp, nil
	case <-timer.C:
		s.cfg.Logger.Warn("settlement pending", "tx", hash, "wait", s.cfg.ReceiptTimeout)
		return pending, nil
	case <-ctx.Done():
		return pending, nil
	case <-s.watcher.done:
		return x402.SettleResponse{}, fmt.Errorf("settle %s: %w", hash, ErrClosed)
	}
}

// outcome maps a receipt to the SettleResponse: success needs status 1 and
// the token's Transfer(from, to, value) log in it.
func (s *Settler) outcome(r *types.Receipt, c Checked, req x402.PaymentRequirements) x402.SettleResponse {
	resp := x402.SettleResponse{Payer: c.From.Hex(), Network: req.Network}
	if r.Status != types.ReceiptStatusSuccessful {
		resp.ErrorReason = x402.ReasonExactEVMTransactionFailed
		resp.ErrorMessage = "transaction " + r.TxHash.Hex() + " reverted"
		return resp
	}
	if !hasTransfer(r, c) {
		resp.ErrorReason = x402.ReasonExactEVMTransferEventMismatch
		resp.ErrorMessage = "transaction " + r.TxHash.Hex() + " has no matching Transfer event"
		return resp
	}
	resp.Success = true
	resp.Transaction = r.TxHash.Hex()
	return resp
}

func hasTransfer(r *types.Receipt, c Checked) bool {
	want := c.Value.Bytes32()
	for _, l := range r.Logs {
		if l.Address == c.Domain.VerifyingContract && len(l.Topics) == 3 && l.Topics[0] == topicTransfer &&
			common.BytesToAddress(l.Topics[1][:]) == c.From && common.BytesToAddress(l.Topics[2][:]) == c.To &&
			len(l.Data) == 32 && [32]byte(l.Data) == want {
			return true
		}
	}
	return false
}

// findEarlier looks for the transaction that used an authorization found
// used on chain. This very authorization settled earlier by a direct
// transferWithAuthorization call (by this node before a crash, or by
// anyone) is a success; a cancellation, another authorization with the
// same nonce, or a use through a relayer contract is nonce_already_used,
// so a payer cannot buy twice with one transfer.
func (s *Settler) findEarlier(ctx context.Context, c Checked, req x402.PaymentRequirements) (x402.SettleResponse, error) {
	used := &Error{Reason: x402.ReasonExactEVMNonceUsed, Message: "authorization nonce already used or canceled", Payer: c.From.Hex()}
	head, err := s.client.BlockNumber(ctx)
	if err != nil {
		return x402.SettleResponse{}, used
	}
	from := uint64(0)
	if head > s.cfg.LogLookback {
		from = head - s.cfg.LogLookback
	}
	logs, err := s.client.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from),
		Addresses: []common.Address{c.Domain.VerifyingContract},
		Topics:    [][]common.Hash{{topicAuthorizationUsed}, {common.BytesToHash(c.From[:])}, {c.Nonce}},
	})
	if err != nil {
		s.cfg.Logger.Warn("search earlier settlement", "err", err)
		return x402.SettleResponse{}, used
	}
	for _, l := range logs {
		tx, _, err := s.client.TransactionByHash(ctx, l.TxHash)
		if err != nil || !sameAuthorization(s.abi, tx.Data(), c.Authorization) {
			continue // the nonce was used by another authorization or a relayer
		}
		r, err := s.client.TransactionReceipt(ctx, l.TxHash)
		if err != nil {
			continue
		}
		if resp := s.outcome(r, c, req); resp.Success {
			return resp, nil
		}
	}
	return x402.SettleResponse{}, used
}
