package policy

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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
// transactions with fsync) to the decision, with 1 and with 8 payments in
// flight.
func BenchmarkAuthorize(b *testing.B) {
	for _, inFlight := range []int{1, 8} {
		b.Run(fmt.Sprintf("in-flight=%d", inFlight), func(b *testing.B) {
			ctx := context.Background()
			db, _ := newDB(b)
			p, err := NewPayer(ctx, PayerConfig{DB: db, Policy: inline("def decide(p):\n    return True\n")})
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			for range inFlight {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						h, d, err := p.Authorize(ctx, payment(1))
						if err != nil || !d.Allow {
							b.Error(d, err)
							return
						}
						if err := p.Commit(ctx, h); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
