package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/script"
)

func writePolicy(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.star")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckFile(t *testing.T) {
	ctx := context.Background()
	for _, f := range []string{"testdata/payer.star", "testdata/payee.star"} {
		r, err := CheckFile(ctx, f)
		if err != nil || !r.OK() || len(r.Tests) < 2 {
			t.Fatalf("%s: %+v %v\n%s", f, r, err, r)
		}
		if !strings.HasSuffix(r.String(), "passed, 0 failed\n") {
			t.Errorf("%s summary:\n%s", f, r)
		}
	}
	r, err := CheckFile(ctx, "testdata/payer.star")
	if err != nil || !r.Payer || r.Payee {
		t.Fatalf("kinds: %+v %v", r, err)
	}
	failing := writePolicy(t, "def decide(p):\n    return True\n\ndef test_wrong():\n    assert_eq(decide({}), False)\n")
	r, err = CheckFile(ctx, failing)
	if err != nil || r.OK() {
		t.Fatalf("failing test: %+v %v", r, err)
	}
	if s := r.String(); !strings.Contains(s, "FAIL test_wrong: policy.star:5:14: in test_wrong: assert_eq: got True, want False") ||
		!strings.HasSuffix(s, "0 passed, 1 failed\n") {
		t.Fatalf("summary:\n%s", s)
	}
	if _, err := CheckFile(ctx, writePolicy(t, "x = 1\n")); !errors.Is(err, ErrNoEntryPoint) {
		t.Fatalf("no entry point: %v", err)
	}
	if _, err := CheckFile(ctx, writePolicy(t, "def price(a, b):\n    return 1\n")); !errors.Is(err, ErrNoEntryPoint) {
		t.Fatalf("wrong arity: %v", err)
	}
	_, err = CheckFile(ctx, writePolicy(t, "def decide(p):\n    return True\n\ndef f(:\n"))
	var se *script.Error
	if !errors.As(err, &se) || !errors.Is(err, script.ErrSyntax) || se.Line != 4 {
		t.Fatalf("syntax error: %v", err)
	}
	if _, err := CheckFile(ctx, filepath.Join(t.TempDir(), "missing.star")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestEvalFile(t *testing.T) {
	ctx := context.Background()
	v2 := `{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e",
		"payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}`
	v1 := `{"scheme":"exact","network":"base-sepolia","maxAmountRequired":"60000","resource":"http://x/y","description":"d",
		"mimeType":"","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e"}`
	whole := `{"requirements":` + v2 + `,"target":{"peer":"12D3KooWX","agent":"a","platform":"tdx"},
		"origin":{"kind":"agent","agent":"summarizer"},"spent":{"total":{"hour":"195000","day":0}},"now":1767225600}`
	for _, c := range []struct {
		name, in string
		allow    bool
		reason   string
	}{
		{"v2 requirements, no target platform", v2, false, "target is not in a hardware TEE"},
		{"v1 requirements", v1, false, "price 60000 over 50000"},
		{"whole input", whole, false, "hourly cap reached"},
		{"whole input under cap", strings.Replace(whole, `"195000"`, `"0"`, 1), true, "allowed by policy"},
	} {
		d, err := EvalFile(ctx, "testdata/payer.star", []byte(c.in))
		if err != nil || d.Allow != c.allow || d.Reason != c.reason {
			t.Errorf("%s: %+v %v", c.name, d, err)
		}
	}
	for name, in := range map[string]string{
		"not json":       `{`,
		"no amount":      `{"network":"eip155:1","asset":"0x1"}`,
		"bad amount":     `{"network":"eip155:1","asset":"0x1","amount":"-5"}`,
		"unknown field":  `{"requirements":{"network":"eip155:1","asset":"0x1","amount":"1"},"spend":{}}`,
		"bad origin":     `{"requirements":{"network":"eip155:1","asset":"0x1","amount":"1"},"origin":{"kind":"x"}}`,
		"too large":      `{"network":"` + strings.Repeat("n", MaxEvalInput) + `"}`,
		"amount 2^300":   `{"network":"eip155:1","asset":"0x1","amount":"` + strings.Repeat("9", 100) + `"}`,
		"array not dict": `[]`,
	} {
		if _, err := EvalFile(ctx, "testdata/payer.star", []byte(in)); !errors.Is(err, ErrBadPayment) {
			t.Errorf("%s: %v", name, err)
		}
	}
	in, err := ParseEvalInput([]byte(v2), time.Unix(42, 0))
	if err != nil || in.Now.Unix() != 42 || in.Payment.Origin.Kind != OriginUser || in.Payment.Requirements.Amount.Int64() != 10000 {
		t.Fatalf("ParseEvalInput defaults: %+v %v", in, err)
	}
}

// FuzzParseEvalInput: no input panics, and accepted input is a valid
// payment.
func FuzzParseEvalInput(f *testing.F) {
	f.Add([]byte(`{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0xabc"}`))
	f.Add([]byte(`{"requirements":{"network":"n:1","asset":"a","maxAmountRequired":5},"target":{"tags":["x"]},"now":1}`))
	f.Add([]byte(`{"requirements":null}`))
	f.Add([]byte(`{"amount":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseEvalInput(data, time.Unix(0, 0))
		if err != nil {
			if !errors.Is(err, ErrBadPayment) {
				t.Fatalf("error without ErrBadPayment: %v", err)
			}
			return
		}
		if err := in.Payment.validate(); err != nil {
			t.Fatalf("accepted an invalid payment: %v", err)
		}
	})
}
