package policy

import (
	"context"
	"testing"
)

// BenchmarkPolicyDecision measures one payer decision of the ~20-line
// policy in testdata/payer.star: reading the spending counters, building
// the input, running decide() in the sandbox and reading its answer.
func BenchmarkPolicyDecision(b *testing.B) {
	ctx := context.Background()
	db, _ := newDB(b)
	p, err := NewPayer(ctx, PayerConfig{DB: db, Policy: program(b, "testdata/payer.star")})
	if err != nil {
		b.Fatal(err)
	}
	for range 3 {
		h, _, err := p.Authorize(ctx, payment(10000))
		if err != nil {
			b.Fatal(err)
		}
		_ = p.Commit(ctx, h)
	}
	pay := payment(10000)
	for b.Loop() {
		d, err := p.Decide(ctx, pay)
		if err != nil || !d.Allow {
			b.Fatal(d, err)
		}
	}
}

// BenchmarkAuthorize adds the durable hold and its commit (two bbolt
// transactions with fsync) to the decision, with 8 payments in flight.
func BenchmarkAuthorize(b *testing.B) {
	ctx := context.Background()
	db, _ := newDB(b)
	p, err := NewPayer(ctx, PayerConfig{DB: db, Policy: inline("def decide(p):\n    return True\n")})
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h, d, err := p.Authorize(ctx, payment(1))
			if err != nil || !d.Allow {
				b.Fatal(d, err)
			}
			if err := p.Commit(ctx, h); err != nil {
				b.Fatal(err)
			}
		}
	})
}
