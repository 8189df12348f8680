package policy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"time"

	"github.com/agentnet/agentnode/script"
)

// Request is what a payee policy prices: an incoming call.
type Request struct {
	// Agent is the agent called.
	Agent string
	// InputSize is the size of the request's input in bytes.
	InputSize int64
	// Caller is the calling peer's id; empty for a local user.
	Caller string
	// DefaultPrice is the price from the agent's manifest or the node's
	// configuration, in the token's atomic units.
	DefaultPrice *big.Int
	// Network and Asset are the token the price is in.
	Network, Asset string
}

// Quote is a payee policy's answer.
type Quote struct {
	// Price in atomic units; 0 means free.
	Price *big.Int
	// Description, if set, replaces the requirement's description.
	Description string
	// Policy names what priced: the policy file, or "default".
	Policy string
}

// PayeeConfig configures a Payee.
type PayeeConfig struct {
	// Policy is the payee policy script; nil charges DefaultPrice.
	Policy *script.Program
	// Limits bound each decision; zero fields take DefaultLimits.
	Limits script.Limits
	// Logger receives prices at debug level; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Payee prices incoming requests. It is safe for concurrent use.
type Payee struct {
	module *script.Module
	name   string
	limits script.Limits
	log    *slog.Logger
	now    func() time.Time
}

// NewPayee compiles the policy, running its top level once.
func NewPayee(ctx context.Context, cfg PayeeConfig) (*Payee, error) {
	p := &Payee{name: "default", limits: mergeLimits(cfg.Limits), log: cfg.Logger, now: cfg.Now}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.now == nil {
		p.now = time.Now
	}
	if cfg.Policy != nil {
		m, err := script.Compile(ctx, *cfg.Policy, script.WithLimits(p.limits))
		if err != nil {
			return nil, fmt.Errorf("compile payee policy: %w", err)
		}
		if n, ok := m.Function("price"); !ok || n != 1 {
			return nil, fmt.Errorf("payee policy %s: want price(request) with one parameter: %w", cfg.Policy.Filename, ErrNoEntryPoint)
		}
		p.module, p.name = m, cfg.Policy.Filename
	}
	return p, nil
}

// Price returns the price of r. On a policy error it returns the error:
// the caller must refuse the request rather than serve it for free or
// at a price the owner did not set.
func (p *Payee) Price(ctx context.Context, r Request) (Quote, error) {
	if r.DefaultPrice == nil || r.DefaultPrice.Sign() < 0 || r.DefaultPrice.BitLen() > 256 || r.InputSize < 0 ||
		len(r.Agent) > maxField || len(r.Caller) > maxField || len(r.Network) > maxField || len(r.Asset) > maxField {
		return Quote{}, fmt.Errorf("price request: %w", ErrBadPayment)
	}
	if p.module == nil {
		return Quote{Price: new(big.Int).Set(r.DefaultPrice), Policy: p.name}, nil
	}
	kind := "user"
	if r.Caller != "" {
		kind = "peer"
	}
	in := map[string]any{
		"agent": r.Agent, "input_size": r.InputSize,
		"caller":        map[string]any{"peer": r.Caller, "kind": kind},
		"default_price": r.DefaultPrice, "network": r.Network, "asset": r.Asset,
		"now": p.now().Unix(),
	}
	res, err := p.module.Call(ctx, "price", []any{in}, p.limits)
	if err != nil {
		p.log.Warn("payee policy failed", "policy", p.name, "err", err)
		return Quote{}, fmt.Errorf("payee policy: %w", err)
	}
	q, err := parseQuote(res.Value, r.DefaultPrice)
	if err != nil {
		return Quote{}, fmt.Errorf("payee policy %s: %w", p.name, err)
	}
	q.Policy = p.name
	p.log.Debug("payee policy priced", "policy", p.name, "agent", r.Agent, "price", q.Price.String())
	return q, nil
}

// parseQuote reads price()'s result: None (the default price), an int, or
// a dict with an int "price" and an optional string "description".
func parseQuote(v any, dflt *big.Int) (Quote, error) {
	var q Quote
	price := v
	if m, ok := v.(map[string]any); ok {
		var present bool
		if price, present = m["price"]; !present {
			return q, fmt.Errorf("price returned a dict without \"price\": %w", ErrBadDecision)
		}
		if d, ok := m["description"]; ok && d != nil {
			s, ok := d.(string)
			if !ok || len(s) > 4*maxField {
				return q, fmt.Errorf("price returned a bad \"description\": %w", ErrBadDecision)
			}
			q.Description = s
		}
	}
	switch x := price.(type) {
	case nil:
		q.Price = new(big.Int).Set(dflt)
	case int64:
		q.Price = big.NewInt(x)
	case *big.Int:
		q.Price = x
	default:
		return q, fmt.Errorf("price returned %T; want an int, None or a dict with \"price\": %w", price, ErrBadDecision)
	}
	if q.Price.Sign() < 0 || q.Price.BitLen() > 256 {
		return q, fmt.Errorf("price %s is negative or over 256 bits: %w", q.Price, ErrBadDecision)
	}
	return q, nil
}
