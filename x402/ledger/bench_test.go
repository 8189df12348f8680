package ledger

import (
	"context"
	"math/big"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLifecycle measures one payment's ledger writes, Reserve +
// MarkExecuted + MarkSettled, on a real bbolt file with fsync. Each write
// is a durable transaction, so fsync dominates; batching lets concurrent
// payments share it.
func BenchmarkLifecycle(b *testing.B) {
	for _, bc := range []struct {
		name     string
		batch    bool
		parallel bool
	}{
		{"serial/update", false, false},
		{"serial/batch", true, false},
		{"parallel/update", false, true},
		{"parallel/batch", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := newTestDB(b)
			d.db.MaxBatchDelay = 2 * time.Millisecond
			l := mustOpen(b, d.db, WithBatch(bc.batch))
			ctx := context.Background()
			var seq atomic.Uint64
			one := func() {
				i := seq.Add(1)
				e := Entry{Key: testKey(0), Amount: big.NewInt(10000), RequestID: "r",
					Requirements: make([]byte, 300), Payload: make([]byte, 400)}
				for j := range 8 {
					e.Nonce[j] = byte(i >> (8 * j))
				}
				if err := l.Reserve(ctx, e); err != nil {
					b.Fatal(err)
				}
				if err := l.MarkExecuted(ctx, e.Key); err != nil {
					b.Fatal(err)
				}
				if err := l.MarkSettled(ctx, e.Key, "0x01"); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			if bc.parallel {
				b.SetParallelism(16) // 16 goroutines per core: a busy node
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						one()
					}
				})
			} else {
				for b.Loop() {
					one()
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
		})
	}
}
