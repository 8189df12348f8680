package node

import (
	"context"
	"fmt"
	"net/http"
	"runtime/trace"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/ledger"
)

// charge is a verified payment reserved for one job.
type charge struct {
	c        *collector
	key      ledger.Key
	ref      enclave.PaymentRef
	payload  x402.PaymentPayload
	req      x402.PaymentRequirements
	required x402.PaymentRequired
	version  int
	// recorded says the ledger has the execution on disk; until then the
	// reservation is held in memory only.
	recorded bool
}

// Ref implements bridge.Charge.
func (ch *charge) Ref() enclave.PaymentRef { return ch.ref }

// Settle implements bridge.Charge: the job ran, so the ledger says so,
// and the payment settles on chain before the result is released.
func (ch *charge) Settle(ctx context.Context) (*api.Payment, http.Header, error) {
	return ch.settle(ctx)
}

// Abort implements bridge.Charge. A job refused before it ran releases the
// payment (never settled; its nonce stays used). A job that ran and then
// failed (trap, timeout, output cap) did the work the payment bought: it
// settles, and the error answer carries PAYMENT-RESPONSE.
func (ch *charge) Abort(ctx context.Context, ran bool) (http.Header, error) {
	if !ran {
		ch.c.metrics.outcome("released")
		if err := ch.c.ledger.Release(context.WithoutCancel(ctx), ch.key, "the execution was refused before it ran"); err != nil {
			// Nothing ran and nothing was sent: the payment is as unspent
			// as before it was reserved.
			_ = ch.c.ledger.Forget(ch.key)
			return nil, fmt.Errorf("release payment: %w", err)
		}
		return nil, nil
	}
	_, h, err := ch.settle(ctx)
	return h, err
}

// settle records the execution and settles the payment through the
// facilitator, both at once, then answers by the settlement's outcome.
// The request's cancellation does not stop it: the work is done and the
// payment is owed, whether or not the client waits.
//
// The settlement does not wait for the record's fsync: the record is what
// a restart settles the payment from, and a payment sent without it is
// safe, because its authorization can be used once only. A crash while
// both are under way leaves either the record (the restart settles the
// payment, or finds it settled) or a settlement the ledger does not list
// (paid once, its result never released), never a payment taken twice.
// Waiting for the fsync before sending would add it to every paid
// request's latency.
func (ch *charge) settle(ctx context.Context) (*api.Payment, http.Header, error) {
	c := ch.c
	ctx = context.WithoutCancel(ctx)
	if err := c.faultAt("ran"); err != nil {
		return nil, nil, err
	}
	recorded := ch.recordExecuted(ctx)
	if err := c.faultAt("sending"); err != nil {
		<-recorded
		return nil, nil, err
	}
	resp, err := ch.send(ctx)
	switch rec := <-recorded; {
	case rec.fault != nil:
		return nil, nil, rec.fault
	case rec.err != nil:
		// The settlement's outcome still decides the answer: a payment
		// the chain took buys its result. New payments wait a pause.
		c.log.Error("payment ledger write failed", "op", "record execution", "key", ch.key.String(), "err", rec.err)
		c.ledgerDown.Store(time.Now().UnixNano())
	default:
		ch.recorded = true
	}
	return ch.answer(ctx, resp, err)
}

// recordOutcome is what the execution record came to: written (err nil),
// failed, or stopped by the fault hook once written.
type recordOutcome struct{ err, fault error }

// recordExecuted writes the execution record in the background.
func (ch *charge) recordExecuted(ctx context.Context) <-chan recordOutcome {
	out := make(chan recordOutcome, 1)
	go func() {
		region := trace.StartRegion(ctx, "x402.record_executed")
		err := ch.c.ledger.MarkExecuted(ctx, ch.key)
		region.End()
		if err != nil {
			out <- recordOutcome{err: err}
			return
		}
		out <- recordOutcome{fault: ch.c.faultAt("recorded")}
	}()
	return out
}

// answer turns the settlement's outcome into the request's: the payment
// and PAYMENT-RESPONSE with the result, or a 402 that withholds it.
func (ch *charge) answer(ctx context.Context, resp x402.SettleResponse, err error) (*api.Payment, http.Header, error) {
	c := ch.c
	switch settlementOf(resp, err) {
	case settled:
		if err := c.faultAt("settled"); err != nil {
			return nil, nil, err
		}
		// The chain has confirmed the payment, so the result may go. The
		// ledger learns it off the response path: until that write is on
		// disk the entry stays executed, and a recovery after a crash finds
		// the transaction on chain (AlreadySettled) instead of sending again.
		if ch.recorded {
			c.metrics.outcome("settled")
		} else {
			c.metrics.outcome("settled_unrecorded")
		}
		// conclude may record the execution, so it starts only after
		// ch.recorded was read.
		c.wg.Go(func() { ch.conclude(context.Background(), resp.Transaction, "") })
		h := http.Header{}
		if err := x402.SetPaymentResponse(h, ch.version, resp); err != nil {
			return nil, nil, err
		}
		return &api.Payment{Network: ch.ref.Network, Payer: ch.ref.Payer, Nonce: ch.ref.Nonce, Amount: ch.req.Amount,
			Transaction: resp.Transaction}, h, nil
	case unsettled:
		// Unknown outcome: the transaction may be on its way. It is
		// settled (once) in the background, or at the next start.
		if err != nil {
			c.log.Warn("settle payment", "key", ch.key.String(), "err", err)
			resp = x402.SettleResponse{Success: false, ErrorReason: x402.ReasonUnexpectedSettleError, Network: ch.req.Network, Payer: ch.ref.Payer}
		}
		c.metrics.outcome("pending")
		c.settleLater(ch)
		return nil, nil, c.refuse(ch.required, resp.ErrorReason, resp.ErrorMessage, &resp, ch.version)
	}
	ch.conclude(ctx, "", resp.ErrorReason+": "+resp.ErrorMessage)
	c.metrics.outcome("failed")
	return nil, nil, c.refuse(ch.required, resp.ErrorReason, resp.ErrorMessage, &resp, ch.version)
}

// send settles the payment through the facilitator, timed for the
// settlement metrics.
func (ch *charge) send(ctx context.Context) (x402.SettleResponse, error) {
	c := ch.c
	sctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	start := time.Now()
	region := trace.StartRegion(ctx, "x402.settle")
	resp, err := c.chain.fac.Settle(sctx, ch.payload, ch.req)
	region.End()
	took := time.Since(start)
	c.metrics.latency.Observe(took.Seconds())
	if c.observe != nil {
		c.observe(took)
	}
	return resp, err
}

// conclude writes the settlement's outcome to the ledger: settled with
// transaction tx, or failed for reason. An execution record that could not
// be written before is written first; when it fails again the reservation
// is forgotten, since the chain holds the outcome (a settled payment's
// authorization is spent, a failed one charged nothing).
func (ch *charge) conclude(ctx context.Context, tx, reason string) {
	c := ch.c
	if !ch.recorded {
		if err := c.ledger.MarkExecuted(ctx, ch.key); err != nil {
			c.log.Error("payment ledger write failed; the chain has this payment's outcome, the ledger does not",
				"op", "record execution", "key", ch.key.String(), "tx", tx, "err", err)
			_ = c.ledger.Forget(ch.key)
			return
		}
		ch.recorded = true
	}
	var err error
	if tx != "" {
		err = c.ledger.MarkSettled(ctx, ch.key, tx)
	} else {
		err = c.ledger.MarkFailed(ctx, ch.key, reason)
	}
	if err != nil {
		c.log.Error("record settlement outcome", "key", ch.key.String(), "tx", tx, "err", err)
	}
}

// settleLater retries a settlement whose outcome is unknown until it is
// settled or refused for good, with backoff, until the node closes. The
// facilitator's Settle is idempotent: a transaction already sent is
// waited for, never sent twice.
func (c *collector) settleLater(ch *charge) {
	if c.ctx.Err() != nil {
		return
	}
	c.wg.Go(func() {
		backoff := time.Second
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(backoff):
			}
			sctx, cancel := context.WithTimeout(c.ctx, settleTimeout)
			resp, err := c.chain.fac.Settle(sctx, ch.payload, ch.req)
			cancel()
			switch settlementOf(resp, err) {
			case settled:
				ch.conclude(c.ctx, resp.Transaction, "")
				c.log.Info("settled a payment whose settlement was pending", "key", ch.key.String(), "tx", resp.Transaction)
				c.metrics.outcome("settled_late")
				return
			case refused:
				ch.conclude(c.ctx, "", resp.ErrorReason)
				c.metrics.outcome("failed")
				return
			}
			backoff = min(2*backoff, time.Minute)
		}
	})
}
