package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentnet/agentnode/script"
)

// This file holds what `agentnode policy check FILE` and
// `agentnode policy eval FILE --requirements JSON` call.

// CheckReport is what CheckFile found.
type CheckReport struct {
	script.Report
	// Payer reports that the file defines decide(payment).
	Payer bool
	// Payee reports that the file defines price(request).
	Payee bool
}

// OK reports whether the file is a usable policy whose tests all pass.
func (r CheckReport) OK() bool { return (r.Payer || r.Payee) && r.Passed() }

// String renders the report for a terminal, ending with the line
// "N passed, N failed".
func (r CheckReport) String() string {
	var b strings.Builder
	var kinds []string
	if r.Payer {
		kinds = append(kinds, "payer policy: decide(payment)")
	}
	if r.Payee {
		kinds = append(kinds, "payee policy: price(request)")
	}
	fmt.Fprintf(&b, "%s: %s\n", r.Filename, strings.Join(kinds, ", "))
	passed, failed := 0, 0
	for _, t := range r.Tests {
		if t.Passed() {
			passed++
			fmt.Fprintf(&b, "PASS %s (%d steps, %v)\n", t.Name, t.Steps, t.Duration.Round(time.Microsecond))
			continue
		}
		failed++
		fmt.Fprintf(&b, "FAIL %s: %v\n", t.Name, t.Err)
		// A backtrace of one frame repeats the position: show deeper ones.
		if lines := strings.Split(strings.TrimSpace(t.Err.Backtrace), "\n"); len(lines) > 1 {
			for _, line := range lines {
				fmt.Fprintf(&b, "    %s\n", line)
			}
		}
	}
	fmt.Fprintf(&b, "%d passed, %d failed\n", passed, failed)
	return b.String()
}

// readPolicy reads a policy file with the source size cap.
func readPolicy(path string) (script.Program, error) {
	f, err := os.Open(path)
	if err != nil {
		return script.Program{}, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, script.MaxSourceLen+1))
	if err != nil {
		return script.Program{}, fmt.Errorf("read policy %s: %w", path, err)
	}
	if len(src) > script.MaxSourceLen {
		return script.Program{}, fmt.Errorf("read policy %s: over %d bytes: %w", path, script.MaxSourceLen, script.ErrTooLarge)
	}
	return script.Program{Filename: filepath.Base(path), Source: src}, nil
}

// CheckFile compiles the policy at path, checks that it defines
// decide(payment) and/or price(request) with one parameter each, and
// runs its test_* functions under the policy limits. A compile error or
// a missing entry point is the error; failing tests are in the report.
func CheckFile(ctx context.Context, path string) (CheckReport, error) {
	p, err := readPolicy(path)
	if err != nil {
		return CheckReport{}, err
	}
	lim := DefaultLimits()
	m, err := script.Compile(ctx, p, script.WithLimits(lim))
	if err != nil {
		return CheckReport{Report: script.Report{Filename: p.Filename}}, err
	}
	r := CheckReport{}
	for name, ok := range map[string]*bool{"decide": &r.Payer, "price": &r.Payee} {
		if n, defined := m.Function(name); defined {
			if n != 1 {
				return r, fmt.Errorf("%s: %s takes %d parameters, want 1: %w", p.Filename, name, n, ErrNoEntryPoint)
			}
			*ok = true
		}
	}
	if !r.Payer && !r.Payee {
		return r, fmt.Errorf("%s: define decide(payment) or price(request): %w", p.Filename, ErrNoEntryPoint)
	}
	// Tests may take longer than one decision: give them the script
	// defaults, which are wider.
	r.Report = m.Check(ctx, script.Limits{})
	return r, nil
}

// EvalInput is a payment to evaluate offline, with the spending and time
// to assume.
type EvalInput struct {
	Payment  Payment
	Spending Spending
	Now      time.Time
}

// EvalFile runs the payer policy at path on the payment described by
// input, and returns its decision. input is either an x402
// PaymentRequirements object (v2 "amount" or v1 "maxAmountRequired"), or
// {"requirements": {...}, "target": {...}, "origin": {...}, "spent":
// {...}, "now": unix seconds} for the whole input (see ParseEvalInput).
// Spending defaults to zero and now to the current time.
func EvalFile(ctx context.Context, path string, input []byte) (Decision, error) {
	in, err := ParseEvalInput(input, time.Now())
	if err != nil {
		return Decision{}, err
	}
	p, err := readPolicy(path)
	if err != nil {
		return Decision{}, err
	}
	payer, err := NewPayer(ctx, PayerConfig{Policy: &p, Now: func() time.Time { return in.Now }})
	if err != nil {
		return Decision{}, err
	}
	if err := in.Payment.validate(); err != nil {
		return Decision{}, fmt.Errorf("evaluate policy: %w", err)
	}
	return payer.decide(ctx, in.Payment, in.Spending, in.Now)
}

// MaxEvalInput caps the JSON ParseEvalInput reads.
const MaxEvalInput = 64 << 10

type amountJSON struct{ v *big.Int }

// UnmarshalJSON accepts a decimal string ("10000", as x402 sends) or a
// JSON integer.
func (a *amountJSON) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 || v.BitLen() > 256 {
		return fmt.Errorf("amount %.40q is not a non-negative integer of at most 256 bits", string(b))
	}
	a.v = v
	return nil
}

type requirementsJSON struct {
	Scheme            string      `json:"scheme"`
	Network           string      `json:"network"`
	Asset             string      `json:"asset"`
	Amount            *amountJSON `json:"amount"`
	MaxAmountRequired *amountJSON `json:"maxAmountRequired"`
	PayTo             string      `json:"payTo"`
	Resource          string      `json:"resource"`
	Description       string      `json:"description"`
	MaxTimeoutSeconds int64       `json:"maxTimeoutSeconds"`
}

type windowJSON struct {
	Hour *amountJSON `json:"hour"`
	Day  *amountJSON `json:"day"`
}

type evalJSON struct {
	Requirements json.RawMessage `json:"requirements"`
	Target       struct {
		Peer         string            `json:"peer"`
		Agent        string            `json:"agent"`
		Tags         []string          `json:"tags"`
		Platform     string            `json:"platform"`
		Measurements map[string]string `json:"measurements"`
	} `json:"target"`
	Origin struct {
		Kind  string `json:"kind"`
		Agent string `json:"agent"`
	} `json:"origin"`
	Spent struct {
		Total       windowJSON `json:"total"`
		Peer        windowJSON `json:"peer"`
		Agent       windowJSON `json:"agent"`
		TargetAgent windowJSON `json:"target_agent"`
	} `json:"spent"`
	Now *int64 `json:"now"`
}

// ParseEvalInput decodes EvalFile's input; now is used when the input
// gives no "now".
func ParseEvalInput(data []byte, now time.Time) (EvalInput, error) {
	var in EvalInput
	if len(data) > MaxEvalInput {
		return in, fmt.Errorf("parse policy input: %d bytes, over %d: %w", len(data), MaxEvalInput, ErrBadPayment)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return in, fmt.Errorf("parse policy input: %v: %w", err, ErrBadPayment)
	}
	var e evalJSON
	reqRaw := json.RawMessage(data)
	if _, whole := probe["requirements"]; whole {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return in, fmt.Errorf("parse policy input: %v: %w", err, ErrBadPayment)
		}
		reqRaw = e.Requirements
	}
	var r requirementsJSON
	if err := json.Unmarshal(reqRaw, &r); err != nil {
		return in, fmt.Errorf("parse payment requirements: %v: %w", err, ErrBadPayment)
	}
	amount := r.Amount
	if amount == nil {
		amount = r.MaxAmountRequired
	}
	if amount == nil {
		return in, fmt.Errorf("parse payment requirements: no amount: %w", ErrBadPayment)
	}
	in.Payment = Payment{
		Requirements: Requirements{Scheme: r.Scheme, Network: r.Network, Asset: r.Asset, Amount: amount.v,
			PayTo: r.PayTo, Resource: r.Resource, Description: r.Description, MaxTimeoutSeconds: r.MaxTimeoutSeconds},
		Target: Target{Peer: e.Target.Peer, Agent: e.Target.Agent, Tags: e.Target.Tags,
			Platform: e.Target.Platform, Measurements: e.Target.Measurements},
		Origin: Origin{Kind: OriginKind(e.Origin.Kind), Agent: e.Origin.Agent},
	}
	if in.Payment.Origin.Kind == "" {
		in.Payment.Origin.Kind = OriginUser
	}
	w := func(x windowJSON) Window {
		out := Window{Hour: new(big.Int), Day: new(big.Int)}
		if x.Hour != nil {
			out.Hour = x.Hour.v
		}
		if x.Day != nil {
			out.Day = x.Day.v
		}
		return out
	}
	in.Spending = Spending{Total: w(e.Spent.Total), Peer: w(e.Spent.Peer), Agent: w(e.Spent.Agent), TargetAgent: w(e.Spent.TargetAgent)}
	in.Now = now
	if e.Now != nil {
		in.Now = time.Unix(*e.Now, 0)
	}
	if err := in.Payment.validate(); err != nil {
		return in, fmt.Errorf("parse policy input: %w", err)
	}
	return in, nil
}
