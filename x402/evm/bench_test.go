package evm_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/x402test"
)

// BenchmarkSettle measures confirmed settlements through the Settler on
// the embedded chain over HTTP JSON-RPC: each worker signs a payment,
// settles it and waits for its receipt, as a paid request does. It reports
// settlements per second and the latency percentiles of Settle, for
// several block periods of the chain and concurrencies. The chain's
// MaxLead is raised (and the payments' validity with it) so that the
// chain clock, which gains a second per block, does not throttle the run.
func BenchmarkSettle(b *testing.B) {
	for _, period := range []time.Duration{-1, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		for _, workers := range []int{4, 32} {
			name := fmt.Sprintf("period=%v/clients=%d", max(period, 0), workers)
			b.Run(name, func(b *testing.B) { benchSettle(b, period, workers) })
		}
	}
}

func benchSettle(b *testing.B, period time.Duration, workers int) {
	env := x402test.NewEnv(b, chain.Config{BlockPeriod: period, MaxLead: 6 * time.Hour})
	s := newSettler(b, env, true)
	req := env.Requirements("100")
	req.MaxTimeoutSeconds = 8 * 3600
	start, _ := env.Chain.Head()
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	b.ResetTimer()
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				p, err := evm.Sign(env.PayerKey, req)
				if err != nil {
					b.Error(err)
					return
				}
				st := time.Now()
				resp, err := s.Settle(context.Background(), p, req)
				if err != nil || !resp.Success {
					b.Errorf("settle: %+v %v", resp, err)
					return
				}
				lat[w] = append(lat[w], time.Since(st))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	end, _ := env.Chain.Head()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "settles/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(all))/float64(max(end-start, 1)), "tx/block")
}
