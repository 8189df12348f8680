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
	"sync/atomic"
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
	// ledgerDown is when (Unix ns) the last execution record failed.
	ledgerDown atomic.Int64
}

// ledgerPause is how long after a failed execution record new payments
// are refused before they run: a node whose ledger cannot write (a full
// disk) takes no work it could not account for, and the first payment
// after the pause tries the ledger again.
const ledgerPause = time.Second

type collectorConfig struct {
	chain   *chainLink
	ledger  *ledger.Ledger
	payee   *policy.Payee // nil: the configured prices
	metrics *payMetrics
	log     *slog.Logger
	// price is the node's price (a deployed agent's comes with its call).
	price uint64
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

// faultAt calls the fault hook, if any, at stage.
func (c *collector) faultAt(stage string) error {
	if c.fault == nil {
		return nil
	}
	return c.fault(stage)
}

// Charge implements bridge.Payments.
func (c *collector) Charge(ctx context.Context, call bridge.Call, job *enclave.Job, agent *bridge.Deployment) (bridge.Charge, error) {
	amount, desc, err := c.quote(ctx, call, job, agent)
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
	if down := c.ledgerDown.Load(); down != 0 && time.Since(time.Unix(0, down)) < ledgerPause {
		c.metrics.outcome("error")
		return nil, ledgerBusy("record execution", "nothing ran and nothing is charged")
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
	if err := c.faultAt("reserved"); err != nil {
		return nil, err
	}
	return ch, nil
}

// quote prices a job: the agent's price, or the node's, then the payee
// policy if there is one. A policy failure refuses the request rather than
// serving it at a price the owner did not set.
func (c *collector) quote(ctx context.Context, call bridge.Call, job *enclave.Job, agent *bridge.Deployment) (*big.Int, string, error) {
	price, desc := c.price, "an encrypted WebAssembly execution"
	name := job.Agent()
	switch {
	case name != "":
		if agent != nil {
			price = agent.Price
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
	return ledgerBusy(what, outcome)
}

// ledgerBusy is ledgerUnavailable's answer.
func ledgerBusy(what, outcome string) error {
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

// freeCharge is the charge of a job priced at zero.
type freeCharge struct{}

func (freeCharge) Ref() enclave.PaymentRef                                   { return enclave.PaymentRef{} }
func (freeCharge) Settle(context.Context) (*api.Payment, http.Header, error) { return nil, nil, nil }
func (freeCharge) Abort(context.Context, bool) (http.Header, error)          { return nil, nil }

// payMetrics are the payment side's Prometheus metrics.
type payMetrics struct {
	payments  *prometheus.CounterVec
	latency   prometheus.Histogram
	compacted prometheus.Counter
}

func newPayMetrics(reg *prometheus.Registry) (*payMetrics, error) {
	m := &payMetrics{
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentnode_payments_total",
			Help: "Paid requests by payment outcome: required (402 without payment), refused (invalid payment), reused (nonce already used), " +
				"settled, settled_unrecorded (settled while the ledger could not write), failed (settlement refused), pending (outcome unknown, settling in the background), settled_late, released (job refused before it ran), error.",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "agentnode_payment_settlement_seconds", Help: "Time to settle a payment on chain (send and receipt), per paid request.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 14),
		}),
		compacted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agentnode_ledger_compacted_total",
			Help: "Ledger entries whose payment material compaction dropped (they ended more than a day before).",
		}),
	}
	for _, c := range []prometheus.Collector{m.payments, m.latency, m.compacted} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register payment metrics: %w", err)
		}
	}
	return m, nil
}

func (m *payMetrics) outcome(o string) { m.payments.WithLabelValues(o).Inc() }
