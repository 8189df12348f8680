package node

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"runtime/trace"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/bridge"
	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/ledger"
	"github.com/agentnet/agentnode/x402/policy"
)

// settleTimeout bounds one settlement of a paid request: the facilitator
// answers settlement_pending after its own receipt wait (30 s for the
// Local one), a remote facilitator within its 60 s request timeout.
const settleTimeout = 90 * time.Second

// verifyTimeout bounds the verification of a payment (the facilitator's
// reads of the chain, or a remote facilitator's answer): a chain that
// hangs must shed the request with 503, not hold its slot until the
// client gives up.
const verifyTimeout = 15 * time.Second

// unavailableReasons are verification answers that say the facilitator
// could not read the chain, nothing about the payment: the request is
// answered 503 (retry the same payment), not refused with 402.
var unavailableReasons = map[string]bool{
	x402.ReasonExactEVMCheckNonce:    true,
	x402.ReasonExactEVMGetBalance:    true,
	x402.ReasonUnexpectedVerifyError: true,
}

// noPaymentError is the PAYMENT-REQUIRED error of a request without a
// payment (the v1 body keeps the v1 SDKs' own text).
const noPaymentError = "PAYMENT-SIGNATURE header is required"

// collector collects x402 payments for executions: the bridge's Payments.
// It prices a job, answers 402 with the requirements, verifies an attached
// payment through the facilitator, reserves its nonce in the ledger before
// the job runs, and settles it before the result is released.
type collector struct {
	collectorConfig
	// ctx is the lifetime of background settlements, cancelled by close.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type collectorConfig struct {
	chain   *chainLink
	ledger  *ledger.Ledger
	payee   *policy.Payee // nil: the configured prices
	metrics *payMetrics
	log     *slog.Logger
	// price is the node's price; agentPrice a deployed agent's.
	price      uint64
	agentPrice func(name string) (uint64, bool)
	// timeout is the authorization window asked for.
	timeout time.Duration
	// fault and observe are the test hooks of PaymentConfig.
	fault   func(stage string) error
	observe func(time.Duration)
	// verifyTimeout bounds a verification; zero means verifyTimeout.
	verifyTimeout time.Duration
}

func newCollector(cfg collectorConfig) *collector {
	c := &collector{collectorConfig: cfg}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// close stops the background settlements; what they did not finish stays
// executed in the ledger, for the next start's recovery.
func (c *collector) close() {
	c.cancel()
	c.wg.Wait()
}

// Charge implements bridge.Payments.
func (c *collector) Charge(ctx context.Context, call bridge.Call, job *enclave.Job) (bridge.Charge, error) {
	amount, desc, err := c.quote(ctx, call, job)
	if err != nil {
		c.metrics.outcome("error")
		return nil, err
	}
	if amount.Sign() == 0 {
		return freeCharge{}, nil
	}
	req := c.chain.asset.Requirements(amount.String(), c.chain.payTo, c.timeout)
	pr := x402.PaymentRequired{X402Version: x402.Version, Resource: x402.ResourceInfo{URL: call.Resource, Description: desc, MimeType: "application/json"},
		Accepts: []x402.PaymentRequirements{req}}
	payload, version, err := x402.ReadPayment(call.Header, pr.Accepts)
	switch {
	case errors.Is(err, x402.ErrNoPayment):
		c.metrics.outcome("required")
		return nil, c.refuse(pr, "", "", nil, 0)
	case errors.Is(err, x402.ErrNoMatch):
		c.metrics.outcome("refused")
		reason := x402.ReasonExactEVMNetworkMismatch
		if v1, err := x402.DecodePaymentPayloadV1(call.Header.Get(x402.HeaderPaymentV1)); err == nil && v1.Scheme != x402.SchemeExact {
			reason = x402.ReasonExactEVMScheme
		}
		return nil, c.refuse(pr, reason, err.Error(), nil, 0)
	case errors.Is(err, x402.ErrVersion):
		c.metrics.outcome("refused")
		return nil, c.refuse(pr, x402.ReasonInvalidX402Version, err.Error(), nil, 0)
	case err != nil:
		c.metrics.outcome("refused")
		return nil, c.refuse(pr, x402.ReasonInvalidPayload, err.Error(), nil, 0)
	}
	// The facilitator checks the payment against the node's own terms,
	// not the client's echo of them.
	vctx, cancel := context.WithTimeout(ctx, cmp.Or(c.verifyTimeout, verifyTimeout))
	region := trace.StartRegion(ctx, "x402.verify")
	v, err := c.chain.fac.Verify(vctx, payload, req)
	region.End()
	cancel()
	if err == nil && !v.IsValid && unavailableReasons[v.InvalidReason] {
		err = fmt.Errorf("%s: %s", v.InvalidReason, v.InvalidMessage)
	}
	if err != nil {
		c.metrics.outcome("error")
		c.log.Warn("verify payment", "err", err)
		return nil, &bridge.Error{Status: http.StatusServiceUnavailable, Code: api.CodeBusy,
			Message: "payment verification is unavailable (the chain or facilitator did not answer); retry shortly",
			Header:  http.Header{"Retry-After": {"2"}}}
	}
	if !v.IsValid {
		c.metrics.outcome("refused")
		return nil, c.refuse(pr, v.InvalidReason, v.InvalidMessage, nil, version)
	}
	region = trace.StartRegion(ctx, "x402.reserve")
	ch, err := c.reserve(ctx, job, payload, req, version)
	region.End()
	if errors.Is(err, ledger.ErrNonceUsed) {
		c.metrics.outcome("reused")
		return nil, c.refuse(pr, x402.ReasonExactEVMNonceUsed, "this payment's nonce was already used for another request", nil, version)
	}
	if err != nil {
		c.metrics.outcome("error")
		return nil, c.ledgerUnavailable("reserve payment", err, "nothing ran and nothing is charged")
	}
	ch.required = pr
	if c.fault != nil {
		if err := c.fault("reserved"); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

// quote prices a job: the agent's manifest price, or the node's, then the
// payee policy if there is one. A policy failure refuses the request
// rather than serving it at a price the owner did not set.
func (c *collector) quote(ctx context.Context, call bridge.Call, job *enclave.Job) (*big.Int, string, error) {
	price, desc := c.price, "an encrypted WebAssembly execution"
	name := job.Agent()
	switch {
	case name != "":
		if p, ok := c.agentPrice(name); ok {
			price = p
		}
		desc = "a call of agent " + name
	case job.Kind() == enclave.KindScript:
		desc = "an encrypted policy script run"
	}
	amount := new(big.Int).SetUint64(price)
	if c.payee == nil {
		return amount, desc, nil
	}
	q, err := c.payee.Price(ctx, policy.Request{Agent: name, InputSize: int64(job.InputSize()), Caller: call.Peer,
		DefaultPrice: amount, Network: string(c.chain.asset.Network), Asset: c.chain.asset.Address.Hex()})
	if err != nil {
		c.log.Error("payee policy", "err", err)
		return nil, "", &bridge.Error{Status: http.StatusInternalServerError, Code: api.CodeInternal,
			Message: "the node's payee policy failed to price this request"}
	}
	if q.Description != "" {
		desc = q.Description
	}
	return q.Price, desc, nil
}

// reserve records a verified payment in the ledger, in state reserved: a
// second use of its nonce, concurrent or later, fails with ErrNonceUsed.
func (c *collector) reserve(ctx context.Context, job *enclave.Job, p x402.PaymentPayload, req x402.PaymentRequirements, version int) (*charge, error) {
	ev, err := p.ExactEVM()
	if err != nil {
		return nil, fmt.Errorf("reserve payment: %w", err)
	}
	auth, err := evm.ParseAuthorization(ev.Authorization)
	if err != nil {
		return nil, fmt.Errorf("reserve payment: %w", err)
	}
	reqJSON, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("reserve payment: %w", err)
	}
	payJSON, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("reserve payment: %w", err)
	}
	amount, _ := new(big.Int).SetString(req.Amount, 10)
	nonce := "0x" + hex.EncodeToString(auth.Nonce[:])
	ch := &charge{
		c:       c,
		key:     ledger.Key{Network: string(req.Network), Asset: req.Asset, Payer: auth.From.Hex(), Nonce: auth.Nonce},
		ref:     enclave.PaymentRef{Network: string(req.Network), Payer: auth.From.Hex(), Nonce: nonce},
		payload: p, req: req, version: version,
	}
	err = c.ledger.Reserve(ctx, ledger.Entry{Key: ch.key, PayTo: req.PayTo, Amount: amount, RequestID: job.RequestID().String(),
		Requirements: reqJSON, Payload: payJSON})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// ledgerUnavailable is the answer when the ledger cannot write (a full
// disk, an I/O error): 503 with Retry-After, since the payment itself was
// fine. The cause goes to the log, not to the client.
func (c *collector) ledgerUnavailable(what string, err error, outcome string) error {
	c.log.Error("payment ledger write failed", "op", what, "err", err)
	return &bridge.Error{Status: http.StatusServiceUnavailable, Code: api.CodeBusy,
		Message: "the node cannot write its payment ledger right now (" + what + "): " + outcome + "; retry shortly",
		Header:  http.Header{"Retry-After": {"5"}}}
}

// refuse is the 402 answer: PAYMENT-REQUIRED (v2) with the reason, the v1
// body {x402Version:1, error, accepts}, and PAYMENT-RESPONSE when a
// settlement was tried.
func (c *collector) refuse(pr x402.PaymentRequired, reason, detail string, settled *x402.SettleResponse, version int) error {
	pr.Error = reason
	msg := "payment refused: " + reason
	if detail != "" {
		msg += ": " + detail
	}
	if reason == "" {
		r := pr.Accepts[0]
		pr.Error = noPaymentError
		msg = fmt.Sprintf("payment required: %s atomic units of token %s on %s, paid to %s (x402: see the PAYMENT-REQUIRED header)",
			r.Amount, r.Asset, r.Network, r.PayTo)
	}
	if settled != nil {
		msg = "settlement failed: " + settled.ErrorReason + "; the result is withheld"
	}
	h := http.Header{}
	if err := x402.SetPaymentRequired(h, pr); err != nil {
		return err
	}
	if settled != nil {
		if err := x402.SetPaymentResponse(h, version, *settled); err != nil {
			return err
		}
	}
	v1 := pr.V1()
	if reason == "" {
		v1.Error = x402.DefaultV1Error
	}
	body, err := json.Marshal(v1)
	if err != nil {
		return fmt.Errorf("encode 402 body: %w", err)
	}
	return &bridge.Error{Status: http.StatusPaymentRequired, Code: api.CodePaymentRequired, Message: msg, Header: h, Body: append(body, '\n')}
}

// charge is a verified payment reserved for one job.
type charge struct {
	c        *collector
	key      ledger.Key
	ref      enclave.PaymentRef
	payload  x402.PaymentPayload
	req      x402.PaymentRequirements
	required x402.PaymentRequired
	version  int
}

// Ref implements bridge.Charge.
func (ch *charge) Ref() enclave.PaymentRef { return ch.ref }

// Settle implements bridge.Charge: the job ran, so the ledger says so,
// then the payment settles on chain before the result is released.
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
			return nil, fmt.Errorf("release payment: %w", err)
		}
		return nil, nil
	}
	_, h, err := ch.settle(ctx)
	return h, err
}

// settle moves the entry to executed, settles through the facilitator and
// records the outcome. The request's cancellation does not stop it: the
// work is done and the payment is owed, whether or not the client waits.
func (ch *charge) settle(ctx context.Context) (*api.Payment, http.Header, error) {
	c := ch.c
	ctx = context.WithoutCancel(ctx)
	region := trace.StartRegion(ctx, "x402.record_executed")
	err := c.ledger.MarkExecuted(ctx, ch.key)
	region.End()
	if err != nil {
		c.metrics.outcome("error")
		return nil, nil, c.ledgerUnavailable("record execution", err,
			"the result is withheld and this payment is never charged; pay again with a new authorization")
	}
	if c.fault != nil {
		if err := c.fault("executed"); err != nil {
			return nil, nil, err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, settleTimeout)
	start := time.Now()
	region = trace.StartRegion(ctx, "x402.settle")
	resp, err := c.chain.fac.Settle(sctx, ch.payload, ch.req)
	region.End()
	cancel()
	took := time.Since(start)
	c.metrics.latency.Observe(took.Seconds())
	if c.observe != nil {
		c.observe(took)
	}
	switch {
	case err == nil && resp.Success:
		if c.fault != nil {
			if err := c.fault("settled"); err != nil {
				return nil, nil, err
			}
		}
		// The chain has confirmed the payment, so the result may go. The
		// ledger learns it off the response path: until that write is on
		// disk the entry stays executed, and a recovery after a crash finds
		// the transaction on chain (AlreadySettled) instead of sending again.
		c.wg.Go(func() {
			if err := c.ledger.MarkSettled(context.Background(), ch.key, resp.Transaction); err != nil {
				c.log.Error("record settlement", "key", ch.key.String(), "tx", resp.Transaction, "err", err)
			}
		})
		c.metrics.outcome("settled")
		h := http.Header{}
		if err := x402.SetPaymentResponse(h, ch.version, resp); err != nil {
			return nil, nil, err
		}
		return &api.Payment{Network: ch.ref.Network, Payer: ch.ref.Payer, Nonce: ch.ref.Nonce, Amount: ch.req.Amount,
			Transaction: resp.Transaction}, h, nil
	case err != nil || !terminal(resp.ErrorReason):
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
	if err := c.ledger.MarkFailed(ctx, ch.key, resp.ErrorReason+": "+resp.ErrorMessage); err != nil {
		c.log.Error("record failed settlement", "key", ch.key.String(), "err", err)
	}
	c.metrics.outcome("failed")
	return nil, nil, c.refuse(ch.required, resp.ErrorReason, resp.ErrorMessage, &resp, ch.version)
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
			switch {
			case err == nil && resp.Success:
				if err := c.ledger.MarkSettled(c.ctx, ch.key, resp.Transaction); err != nil {
					c.log.Error("record settlement", "key", ch.key.String(), "err", err)
				}
				c.log.Info("settled a payment whose settlement was pending", "key", ch.key.String(), "tx", resp.Transaction)
				c.metrics.outcome("settled_late")
				return
			case err == nil && terminal(resp.ErrorReason):
				if err := c.ledger.MarkFailed(c.ctx, ch.key, resp.ErrorReason); err != nil {
					c.log.Error("record failed settlement", "key", ch.key.String(), "err", err)
				}
				c.metrics.outcome("failed")
				return
			}
			backoff = min(2*backoff, time.Minute)
		}
	})
}

// freeCharge is the charge of a job priced at zero.
type freeCharge struct{}

func (freeCharge) Ref() enclave.PaymentRef                                   { return enclave.PaymentRef{} }
func (freeCharge) Settle(context.Context) (*api.Payment, http.Header, error) { return nil, nil, nil }
func (freeCharge) Abort(context.Context, bool) (http.Header, error)          { return nil, nil }

// payMetrics are the payment side's Prometheus metrics.
type payMetrics struct {
	payments *prometheus.CounterVec
	latency  prometheus.Histogram
}

func newPayMetrics(reg *prometheus.Registry) (*payMetrics, error) {
	m := &payMetrics{
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentnode_payments_total",
			Help: "Paid requests by payment outcome: required (402 without payment), refused (invalid payment), reused (nonce already used), " +
				"settled, failed (settlement refused), pending (outcome unknown, settling in the background), settled_late, released (job refused before it ran), error.",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "agentnode_payment_settlement_seconds", Help: "Time to settle a payment on chain (send and receipt), per paid request.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 14),
		}),
	}
	for _, c := range []prometheus.Collector{m.payments, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register payment metrics: %w", err)
		}
	}
	return m, nil
}

func (m *payMetrics) outcome(o string) { m.payments.WithLabelValues(o).Inc() }
