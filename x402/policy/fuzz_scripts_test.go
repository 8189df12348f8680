package policy

import (
	"context"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/agentnet/agentnode/script"
)

// FuzzPolicyScripts loads any source as a payer policy and as a payee
// policy (the files payer_policy and payee_policy name) and asks each for
// a decision: nothing panics or outlives its limits; a payer answer is an
// error or a decision with a bounded reason; a payee answer is an error or
// a price of at most 256 bits that is not negative.
func FuzzPolicyScripts(f *testing.F) {
	for _, name := range []string{"testdata/payer.star", "testdata/payee.star"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), int64(10000), false)
	}
	for _, src := range []string{
		"def decide(p):\n    return p['amount'] <= 10000\n",
		"def decide(p):\n    return {'allow': False, 'reason': 'x' * 1000}\n",
		"def decide(p):\n    return {'allow': 1}\n",
		"def price(r):\n    return {'price': r['default_price'] * 2, 'description': 'double'}\n",
		"def price(r):\n    return -r['default_price']\n",
		"def price(r):\n    return 1 << 300\n",
		"def decide(p):\n    while True:\n        pass\n",
		"x = [1] * (1 << 30)\ndef decide(p): return True\n",
		"load('os', 'system')\n",
		"def decide(p, q): return True\n",
	} {
		f.Add(src, int64(1), true)
	}
	limits := script.Limits{MaxSteps: 20_000, MaxAlloc: 1 << 20, Timeout: 100 * time.Millisecond, MaxOutput: 1 << 10, MaxResult: 4 << 10}
	f.Fuzz(func(t *testing.T, src string, amount int64, fromAgent bool) {
		ctx := context.Background()
		prog := &script.Program{Filename: "fuzz.star", Source: []byte(src)}
		pay := Payment{
			Requirements: Requirements{Scheme: "exact", Network: "eip155:1337", Asset: "0x1111111111111111111111111111111111111111",
				Amount: big.NewInt(amount), PayTo: "0x2222222222222222222222222222222222222222", MaxTimeoutSeconds: 300},
			Target: Target{Peer: "12D3KooWPeer", Agent: "echo", Tags: []string{"t"}, Platform: "sim", Measurements: map[string]string{"measurement": "00"}},
			Origin: Origin{Kind: OriginUser},
		}
		if fromAgent {
			pay.Origin = Origin{Kind: OriginAgent, Agent: "relay"}
		}
		start := time.Now()
		if payer, err := NewPayer(ctx, PayerConfig{Policy: prog, Limits: limits}); err == nil {
			d, err := payer.Decide(ctx, pay)
			if err == nil && (d.Reason == "" || len(d.Reason) > 512 || d.Policy != "fuzz.star") {
				t.Fatalf("decision %+v", d)
			}
			if err == nil && amount < 0 {
				t.Fatalf("decided on a negative amount: %+v", d)
			}
		}
		if payee, err := NewPayee(ctx, PayeeConfig{Policy: prog, Limits: limits}); err == nil {
			q, err := payee.Price(ctx, Request{Agent: "echo", InputSize: 10, DefaultPrice: big.NewInt(max(amount, 0)), Network: "eip155:1337", Asset: "0x1"})
			if err == nil && (q.Price == nil || q.Price.Sign() < 0 || q.Price.BitLen() > 256) {
				t.Fatalf("price %+v", q)
			}
		}
		// Two compilations and two calls, each bounded by the limits'
		// timeout; a generous bound catches a limit that does not hold.
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("policy took %s", d)
		}
	})
}
