package ledger

import (
	"context"
	"errors"
	"fmt"
)

// Settler is what Recover needs from the payment side: the chain's view of
// an authorization, and a way to settle it. The node plugs in its x402
// facilitator; tests plug in a fake.
type Settler interface {
	// AuthorizationUsed reports whether e's authorization was already used
	// by a transfer on chain, with that transaction's hash when known
	// (EIP-3009 authorizationState says only yes or no). An authorization
	// the payer cancelled must not be reported as used: return an error
	// wrapping ErrSettleRejected instead.
	AuthorizationUsed(ctx context.Context, e Entry) (used bool, txHash string, err error)
	// Settle sends e's authorization to the chain once and returns the
	// transaction hash after it is confirmed. An error wrapping
	// ErrSettleRejected means the chain refused it for good; any other
	// error is transient and the entry stays pending.
	Settle(ctx context.Context, e Entry) (txHash string, err error)
}

// Report says what Recover did.
type Report struct {
	// Settled lists entries Recover settled by sending the authorization.
	Settled []Key
	// AlreadySettled lists entries whose authorization the chain had
	// already used (the node stopped after sending, before recording);
	// they were marked settled without sending again.
	AlreadySettled []Key
	// Failed lists entries whose settlement the chain refused for good.
	Failed []Key
	// Released lists reservations whose work was cut off by the stop;
	// nothing was settled and no result was returned.
	Released []Key
	// Retry lists entries left pending after a transient error, to be
	// retried by a later Recover.
	Retry []RetryItem
}

// RetryItem is an entry Recover could not finish and the error that
// stopped it.
type RetryItem struct {
	Key Key
	Err error
}

// Fault points a test hook may interrupt, in the order Recover meets them
// for one executed entry.
const (
	faultAfterCheck  = "after-check"  // chain said unused, before Settle
	faultAfterSettle = "after-settle" // Settle succeeded, before recording
)

// Recover brings every entry that no live request of this process owns to
// a terminal state where it can:
//
//   - a reserved entry on disk (written by ledgers before reservations
//     moved to memory; its work was cut off by a stop) is released: no
//     result was returned, so nothing is charged;
//   - an executed entry is first checked on chain: if the authorization
//     was already used, it is marked settled without sending again;
//     otherwise it is settled once and marked settled, or marked failed if
//     the chain refuses it for good.
//
// Transient errors leave entries pending and are listed in the report; a
// later Recover retries them. Run Recover at start, before serving; it is
// also safe to run periodically, since entries a live request is handling
// are skipped and two concurrent Recovers never handle the same entry.
// The error is non-nil only when the ledger itself fails or ctx ends.
func (l *Ledger) Recover(ctx context.Context, s Settler) (Report, error) {
	var r Report
	if s == nil {
		return r, fmt.Errorf("recover ledger: nil settler")
	}
	reserved, err := l.Reserved(ctx)
	if err != nil {
		return r, fmt.Errorf("recover ledger: %w", err)
	}
	for _, e := range reserved {
		if !l.claim(e.Key, nil) {
			continue
		}
		err := l.Release(ctx, e.Key, "abandoned: the node stopped before the work finished")
		l.unclaim(e.Key)
		if err != nil {
			if errors.Is(err, ErrInvalidTransition) {
				continue // moved on meanwhile
			}
			return r, fmt.Errorf("recover ledger: %w", err)
		}
		l.log.Info("ledger: released abandoned reservation", "key", e.Key.String(), "request", e.RequestID)
		r.Released = append(r.Released, e.Key)
	}
	pending, err := l.Pending(ctx)
	if err != nil {
		return r, fmt.Errorf("recover ledger: %w", err)
	}
	for _, e := range pending {
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("recover ledger: %w", err)
		}
		if !l.claim(e.Key, nil) {
			continue
		}
		// The list is a snapshot: a live request may have settled the
		// entry and let go of it since. Act only on what is still pending.
		cur, err := l.Get(ctx, e.Key)
		if err != nil {
			l.unclaim(e.Key)
			return r, fmt.Errorf("recover ledger: %w", err)
		}
		if cur.State != StateExecuted {
			l.unclaim(e.Key)
			continue
		}
		err = l.recoverOne(ctx, cur, s, &r)
		l.unclaim(e.Key)
		if err != nil {
			return r, fmt.Errorf("recover ledger: %w", err)
		}
	}
	return r, nil
}

// recoverOne settles one executed entry; it returns an error only for
// ledger failures and simulated crashes.
func (l *Ledger) recoverOne(ctx context.Context, e Entry, s Settler, r *Report) error {
	retry := func(err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		l.log.Warn("ledger: settlement left pending", "key", e.Key.String(), "err", err)
		r.Retry = append(r.Retry, RetryItem{Key: e.Key, Err: err})
		return nil
	}
	fail := func(err error) error {
		if _, merr := l.transition(ctx, e.Key, StateFailed, func(x *Entry) { x.Reason = truncateReason(err.Error()) }); merr != nil {
			return merr
		}
		l.log.Warn("ledger: settlement rejected", "key", e.Key.String(), "err", err)
		r.Failed = append(r.Failed, e.Key)
		return nil
	}
	used, tx, err := s.AuthorizationUsed(ctx, e)
	switch {
	case errors.Is(err, ErrSettleRejected):
		return fail(err)
	case err != nil:
		return retry(fmt.Errorf("check authorization: %w", err))
	case used:
		_, err := l.transition(ctx, e.Key, StateSettled, func(x *Entry) {
			x.TxHash = tx
			x.Reason = "authorization found used on chain at recovery"
		})
		if err != nil {
			return err
		}
		l.log.Info("ledger: found settled on chain", "key", e.Key.String(), "tx", tx)
		r.AlreadySettled = append(r.AlreadySettled, e.Key)
		return nil
	}
	if err := l.faultAt(faultAfterCheck, e.Key); err != nil {
		return err
	}
	tx, err = s.Settle(ctx, e)
	switch {
	case errors.Is(err, ErrSettleRejected):
		return fail(err)
	case err != nil:
		return retry(fmt.Errorf("settle: %w", err))
	case tx == "":
		return retry(fmt.Errorf("settle: settler returned no transaction hash"))
	}
	if err := l.faultAt(faultAfterSettle, e.Key); err != nil {
		return err
	}
	if _, err := l.transition(ctx, e.Key, StateSettled, func(x *Entry) { x.TxHash = tx }); err != nil {
		return err
	}
	l.log.Info("ledger: settled at recovery", "key", e.Key.String(), "tx", tx)
	r.Settled = append(r.Settled, e.Key)
	return nil
}

func (l *Ledger) faultAt(point string, k Key) error {
	if l.fault == nil {
		return nil
	}
	return l.fault(point, k)
}

func truncateReason(s string) string {
	if len(s) > MaxTextLen {
		return s[:MaxTextLen]
	}
	return s
}
