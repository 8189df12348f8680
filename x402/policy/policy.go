// Package policy decides, with owner-written Starlark scripts, which
// payments the node makes (the payer policy) and what the node charges
// (the payee policy).
//
// A payer policy defines decide(payment), called for every payment the
// node would make, for a user's remote call or an agent's call, with the
// payment requirements, the target's card and attestation claims, the
// origin, and what was already spent per hour and per day. A payee
// policy defines price(request), called for every incoming request. Both
// run in the script package's sandbox: no I/O, no clock but the "now" the
// host passes, step, memory and time limits, and errors with file:line.
// docs/policy-scripts.md documents inputs, outputs and limits.
//
// Spending lives in the node's bbolt database. [Payer.Authorize] decides
// and reserves the payment's amount atomically, so two concurrent
// payments cannot both pass a cap only one fits under; the caller then
// commits or rolls back the [Hold].
package policy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.starlark.net/starlark"

	"github.com/agentnet/agentnode/script"
)

// DefaultLimits bound one policy decision. A decision of a 20-line policy
// takes a few hundred steps and about 20 µs.
func DefaultLimits() script.Limits {
	return script.Limits{MaxSteps: 100_000, MaxAlloc: 4 << 20, Timeout: 250 * time.Millisecond,
		MaxOutput: 4 << 10, MaxResult: 16 << 10}
}

// Requirements are the payment terms a payee asked for (x402
// PaymentRequirements, with the amount parsed).
type Requirements struct {
	Scheme            string
	Network           string // CAIP-2, e.g. "eip155:8453"
	Asset             string // token contract
	Amount            *big.Int
	PayTo             string
	Resource          string
	Description       string
	MaxTimeoutSeconds int64
}

// Target is who would be paid: the callee's card and attestation claims.
type Target struct {
	Peer         string
	Agent        string
	Tags         []string
	Platform     string // "tdx", "snp", "sim"
	Measurements map[string]string
}

// OriginKind says who causes a payment.
type OriginKind string

// The origins of a payment.
const (
	// OriginUser: a user's remote call through the bridge or CLI.
	OriginUser OriginKind = "user"
	// OriginAgent: an agent's call through the agentnet host ABI.
	OriginAgent OriginKind = "agent"
)

// Origin is who causes a payment.
type Origin struct {
	Kind  OriginKind
	Agent string // the calling agent, for OriginAgent
}

// Payment is what a payer policy decides on.
type Payment struct {
	Requirements Requirements
	Target       Target
	Origin       Origin
}

// Decision is a policy's answer.
type Decision struct {
	Allow  bool
	Reason string
	// Policy names what decided: the policy file, or "default".
	Policy string
}

// Size caps on what is handed to a policy.
const (
	maxField = 256
	maxTags  = 64
	maxMeas  = 32
)

func (p Payment) validate() error {
	r := p.Requirements
	if r.Network == "" || r.Asset == "" {
		return fmt.Errorf("network and asset are required: %w", ErrBadPayment)
	}
	if r.Amount == nil || r.Amount.Sign() < 0 || r.Amount.BitLen() > 256 {
		return fmt.Errorf("amount must be a non-negative integer of at most 256 bits: %w", ErrBadPayment)
	}
	for _, s := range []string{r.Scheme, r.Network, r.Asset, r.PayTo, p.Target.Peer, p.Target.Agent, p.Target.Platform, p.Origin.Agent} {
		if len(s) > maxField {
			return fmt.Errorf("field of %d bytes, over %d: %w", len(s), maxField, ErrBadPayment)
		}
	}
	if len(r.Resource) > 4*maxField || len(r.Description) > 4*maxField {
		return fmt.Errorf("resource or description over %d bytes: %w", 4*maxField, ErrBadPayment)
	}
	if len(p.Target.Tags) > maxTags || len(p.Target.Measurements) > maxMeas {
		return fmt.Errorf("more than %d tags or %d measurements: %w", maxTags, maxMeas, ErrBadPayment)
	}
	for _, t := range p.Target.Tags {
		if len(t) > maxField {
			return fmt.Errorf("tag over %d bytes: %w", maxField, ErrBadPayment)
		}
	}
	for k, v := range p.Target.Measurements {
		if len(k) > maxField || len(v) > 4*maxField {
			return fmt.Errorf("measurement over size: %w", ErrBadPayment)
		}
	}
	switch p.Origin.Kind {
	case OriginUser:
	case OriginAgent:
		if p.Origin.Agent == "" {
			return fmt.Errorf("an agent origin needs the agent's name: %w", ErrBadPayment)
		}
	default:
		return fmt.Errorf("origin kind %q: %w", p.Origin.Kind, ErrBadPayment)
	}
	return nil
}

// dict builds a Starlark dict from key, value pairs, in that order. The
// input is built directly as Starlark values, not converted from Go maps,
// which halves the cost of a decision.
func dict(kv ...starlark.Value) *starlark.Dict {
	d := starlark.NewDict(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		_ = d.SetKey(kv[i], kv[i+1]) // string keys on a new dict cannot fail
	}
	return d
}

type str = starlark.String

func window(w Window) *starlark.Dict {
	return dict(str("hour"), starlark.MakeBigInt(w.Hour), str("day"), starlark.MakeBigInt(w.Day))
}

// input builds the dict decide(payment) receives.
func (p Payment) input(s Spending, now time.Time) *starlark.Dict {
	r, t := p.Requirements, p.Target
	tags := make([]starlark.Value, len(t.Tags))
	for i, x := range t.Tags {
		tags[i] = str(x)
	}
	meas := starlark.NewDict(len(t.Measurements))
	for _, k := range slices.Sorted(maps.Keys(t.Measurements)) {
		_ = meas.SetKey(str(k), str(t.Measurements[k]))
	}
	var agent starlark.Value = starlark.None
	if p.Origin.Kind == OriginAgent {
		agent = str(p.Origin.Agent)
	}
	return dict(
		str("requirements"), dict(
			str("scheme"), str(r.Scheme), str("network"), str(r.Network), str("asset"), str(r.Asset),
			str("amount"), starlark.MakeBigInt(r.Amount), str("pay_to"), str(r.PayTo),
			str("resource"), str(r.Resource), str("description"), str(r.Description),
			str("max_timeout_seconds"), starlark.MakeInt64(r.MaxTimeoutSeconds)),
		str("target"), dict(str("peer"), str(t.Peer), str("agent"), str(t.Agent),
			str("tags"), starlark.NewList(tags), str("platform"), str(t.Platform), str("measurements"), meas),
		str("origin"), dict(str("kind"), str(p.Origin.Kind), str("agent"), agent),
		str("spent"), dict(str("total"), window(s.Total), str("peer"), window(s.Peer),
			str("agent"), window(s.Agent), str("target_agent"), window(s.TargetAgent)),
		str("now"), starlark.MakeInt64(now.Unix()),
	)
}

// parseDecision reads decide()'s result: a bool, or a dict with a bool
// "allow" and an optional string "reason".
func parseDecision(v any, policy string) (Decision, error) {
	d := Decision{Policy: policy}
	switch v := v.(type) {
	case bool:
		d.Allow = v
	case map[string]any:
		allow, ok := v["allow"].(bool)
		if !ok {
			return d, fmt.Errorf("decide returned a dict without a bool \"allow\": %w", ErrBadDecision)
		}
		d.Allow = allow
		if r, ok := v["reason"]; ok && r != nil {
			s, ok := r.(string)
			if !ok {
				return d, fmt.Errorf("decide returned a non-string \"reason\": %w", ErrBadDecision)
			}
			d.Reason = s
		}
	default:
		return d, fmt.Errorf("decide returned %T; want a bool or a dict with \"allow\": %w", v, ErrBadDecision)
	}
	if d.Reason == "" {
		d.Reason = "denied by policy"
		if d.Allow {
			d.Reason = "allowed by policy"
		}
	}
	if len(d.Reason) > 512 {
		d.Reason = d.Reason[:512]
	}
	return d, nil
}

// PayerConfig configures a Payer.
type PayerConfig struct {
	// DB keeps spending; required for Authorize, not for Decide.
	DB *bolt.DB
	// Policy is the payer policy script; nil uses the default policy.
	Policy *script.Program
	// MaxPrice is the default policy: allow a payment whose amount is at
	// most MaxPrice (in the token's atomic units). With neither Policy nor
	// MaxPrice, only free payments (amount 0) are allowed. A script
	// policy ignores MaxPrice.
	MaxPrice *big.Int
	// Limits bound each decision; zero fields take DefaultLimits.
	Limits script.Limits
	// Logger receives decisions at debug level; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Payer decides and accounts the payments the node makes. It is safe for
// concurrent use.
type Payer struct {
	module   *script.Module // nil: the default policy
	name     string
	maxPrice *big.Int
	limits   script.Limits
	log      *slog.Logger
	now      func() time.Time
	spend    *spendStore // nil without a database

	// mu serializes decide-and-reserve, so a decision always sees every
	// earlier allowed payment.
	mu sync.Mutex
}

// NewPayer compiles the policy (running its top level once) and loads the
// spending counters.
func NewPayer(ctx context.Context, cfg PayerConfig) (*Payer, error) {
	p := &Payer{name: "default", maxPrice: cfg.MaxPrice, log: cfg.Logger, now: cfg.Now}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.limits = mergeLimits(cfg.Limits)
	if cfg.Policy != nil {
		m, err := script.Compile(ctx, *cfg.Policy, script.WithLimits(p.limits))
		if err != nil {
			return nil, fmt.Errorf("compile payer policy: %w", err)
		}
		if n, ok := m.Function("decide"); !ok || n != 1 {
			return nil, fmt.Errorf("payer policy %s: want decide(payment) with one parameter: %w", cfg.Policy.Filename, ErrNoEntryPoint)
		}
		p.module, p.name = m, cfg.Policy.Filename
	}
	if cfg.DB != nil {
		s, err := openSpend(cfg.DB, p.now())
		if err != nil {
			return nil, err
		}
		p.spend = s
	}
	return p, nil
}

func mergeLimits(l script.Limits) script.Limits { return l.Or(DefaultLimits()) }

// Decide runs the policy on pay with the current spending, without
// reserving anything: what Authorize would decide now.
func (p *Payer) Decide(ctx context.Context, pay Payment) (Decision, error) {
	if err := pay.validate(); err != nil {
		return Decision{Policy: p.name, Reason: err.Error()}, fmt.Errorf("decide payment: %w", err)
	}
	now := p.now()
	var s Spending
	if p.spend != nil {
		p.spend.mu.Lock()
		s = p.spend.spendingLocked(pay.Requirements.Network, canonicalAsset(pay.Requirements.Network, pay.Requirements.Asset), scopesOf(pay), hourOf(now))
		p.spend.mu.Unlock()
	} else {
		s = zeroSpending()
	}
	return p.decide(ctx, pay, s, now)
}

func zeroSpending() Spending {
	z := func() Window { return Window{Hour: new(big.Int), Day: new(big.Int)} }
	return Spending{Total: z(), Peer: z(), Agent: z(), TargetAgent: z()}
}

// decide evaluates the policy. It fails closed: any error denies.
func (p *Payer) decide(ctx context.Context, pay Payment, s Spending, now time.Time) (Decision, error) {
	if p.module == nil {
		amt := pay.Requirements.Amount
		switch {
		case amt.Sign() == 0:
			return Decision{Allow: true, Reason: "free", Policy: p.name}, nil
		case p.maxPrice == nil:
			return Decision{Reason: "no payer policy and no maximum price configured", Policy: p.name}, nil
		case amt.Cmp(p.maxPrice) > 0:
			return Decision{Reason: fmt.Sprintf("price %s exceeds the maximum %s", amt, p.maxPrice), Policy: p.name}, nil
		}
		return Decision{Allow: true, Reason: fmt.Sprintf("price %s within the maximum %s", amt, p.maxPrice), Policy: p.name}, nil
	}
	res, err := p.module.Call(ctx, "decide", []any{pay.input(s, now)}, p.limits)
	if err != nil {
		p.log.Warn("payer policy failed", "policy", p.name, "err", err)
		return Decision{Reason: "policy error: " + err.Error(), Policy: p.name}, fmt.Errorf("payer policy: %w", err)
	}
	d, err := parseDecision(res.Value, p.name)
	if err != nil {
		return Decision{Reason: err.Error(), Policy: p.name}, fmt.Errorf("payer policy %s: %w", p.name, err)
	}
	p.log.Debug("payer policy decided", "policy", p.name, "allow", d.Allow, "reason", d.Reason,
		"amount", pay.Requirements.Amount.String(), "peer", pay.Target.Peer, "steps", res.Steps)
	return d, nil
}

// Authorize decides pay and, if allowed, reserves its amount in the
// spending counters, atomically with respect to other Authorize calls:
// a decision sees every payment allowed before it. The hold is on disk
// when Authorize returns. The caller must Commit the hold after paying or
// Rollback it if it did not pay. A denied payment returns a zero Hold and
// a nil error; a policy failure denies and returns the error.
func (p *Payer) Authorize(ctx context.Context, pay Payment) (Hold, Decision, error) {
	if p.spend == nil {
		return Hold{}, Decision{Policy: p.name, Reason: ErrNoDatabase.Error()}, fmt.Errorf("authorize payment: %w", ErrNoDatabase)
	}
	if err := pay.validate(); err != nil {
		return Hold{}, Decision{Policy: p.name, Reason: err.Error()}, fmt.Errorf("authorize payment: %w", err)
	}
	network := pay.Requirements.Network
	asset := canonicalAsset(network, pay.Requirements.Asset)
	sc := scopesOf(pay)

	p.mu.Lock()
	now := p.now()
	hour := hourOf(now)
	p.spend.mu.Lock()
	p.spend.pruneLocked(hour)
	spent := p.spend.spendingLocked(network, asset, sc, hour)
	p.spend.mu.Unlock()
	d, err := p.decide(ctx, pay, spent, now)
	if err != nil || !d.Allow {
		p.mu.Unlock()
		return Hold{}, d, err
	}
	h := Hold{ID: newHoldID(), Network: network, Asset: asset, Amount: new(big.Int).Set(pay.Requirements.Amount),
		Hour: hour, Scopes: sc.list(), Created: now.UTC()}
	p.spend.mu.Lock()
	p.spend.addLocked(h, h.Amount)
	p.spend.mu.Unlock()
	p.mu.Unlock()

	if err := p.spend.persist(ctx, h, "create"); err != nil {
		p.spend.mu.Lock()
		p.spend.addLocked(h, new(big.Int).Neg(h.Amount))
		p.spend.mu.Unlock()
		return Hold{}, Decision{Policy: p.name, Reason: "spending not recorded"}, fmt.Errorf("authorize payment: record spending: %w", err)
	}
	return h, d, nil
}

// Commit makes a hold's spending final (the payment was made).
func (p *Payer) Commit(ctx context.Context, h Hold) error {
	if p.spend == nil {
		return fmt.Errorf("commit hold: %w", ErrNoDatabase)
	}
	if err := p.spend.persist(ctx, h, "commit"); err != nil {
		return fmt.Errorf("commit hold %s: %w", h.ID, err)
	}
	return nil
}

// Rollback returns a hold's amount to the budgets (the payment was not
// made). It also works on holds found after a restart by Holds.
func (p *Payer) Rollback(ctx context.Context, h Hold) error {
	if p.spend == nil {
		return fmt.Errorf("roll back hold: %w", ErrNoDatabase)
	}
	stored, err := p.spend.hold(ctx, h.ID)
	if err != nil {
		return fmt.Errorf("roll back hold %s: %w", h.ID, err)
	}
	if err := p.spend.persist(ctx, stored, "rollback"); err != nil {
		return fmt.Errorf("roll back hold %s: %w", h.ID, err)
	}
	p.spend.mu.Lock()
	p.spend.addLocked(stored, new(big.Int).Neg(stored.Amount))
	p.spend.mu.Unlock()
	return nil
}

// Holds lists holds neither committed nor rolled back: after a restart,
// the payments whose outcome the node must reconcile (with the payment
// ledger). Until then they count as spent.
func (p *Payer) Holds(ctx context.Context) ([]Hold, error) {
	if p.spend == nil {
		return nil, fmt.Errorf("list holds: %w", ErrNoDatabase)
	}
	h, err := p.spend.holds(ctx)
	if err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	return h, nil
}

// Spending returns what was spent so far in pay's token and scopes.
func (p *Payer) Spending(pay Payment) (Spending, error) {
	if p.spend == nil {
		return Spending{}, ErrNoDatabase
	}
	p.spend.mu.Lock()
	defer p.spend.mu.Unlock()
	net := pay.Requirements.Network
	return p.spend.spendingLocked(net, canonicalAsset(net, pay.Requirements.Asset), scopesOf(pay), hourOf(p.now())), nil
}
