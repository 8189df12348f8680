package node_test

import (
	"context"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/ledger"
	"github.com/agentnet/agentnode/x402/x402test"
)

// Benchmark settings. The embedded chain seals a block at most every
// BlockPeriod (1 ms, its default) and its clock gains a second per block,
// so under sustained load it runs ahead of the wall clock; MaxLead (2 min
// by default, after which blocks slow to one a second) is raised to 6 h
// for the run, and the node asks for authorizations valid that long, so
// that the chain clock neither throttles the run nor expires payments.
// Settlement stays confirmed before each result is released.
const (
	benchMaxLead = 6 * time.Hour
	benchPrice   = 100
)

// BenchmarkPaidExec measures paid executions per second through the
// bridge on the embedded chain, with 4 and 32 concurrent clients: each
// request is a sealed execution of a small module answered 402, paid by
// the client (EIP-3009 signature), verified, reserved in the ledger,
// executed, settled on chain (receipt confirmed) and then released. It
// reports request latency and settlement latency percentiles, and the
// ratio to unpaid encrypted execution measured in the same run
// (unpaid/clients=N runs the same client code against a free node).
func BenchmarkPaidExec(b *testing.B) {
	env := x402test.NewEnv(b, chain.Config{MaxLead: benchMaxLead})
	var (
		mu     sync.Mutex
		settle []time.Duration
	)
	paidCfg := paidConfig(env, b.TempDir(), benchPrice)
	paidCfg.PaymentTimeout = node.Duration{Duration: benchMaxLead + time.Hour}
	node.SetSettleObserver(&paidCfg, func(d time.Duration) {
		mu.Lock()
		settle = append(settle, d)
		mu.Unlock()
	})
	paid := nodetest.StartConfig(b, paidCfg)
	off := false
	free := nodetest.StartConfig(b, node.Config{Listening: "127.0.0.1:0", DataDir: b.TempDir(), TEE: "sim", LogLevel: "error", P2P: &off})
	unpaidRate := map[int]float64{}
	for _, clients := range []int{4, 32} {
		b.Run(fmt.Sprintf("unpaid/clients=%d", clients), func(b *testing.B) {
			r := benchExec(b, free.BridgeURL(), nil, clients)
			unpaidRate[clients] = r
		})
		b.Run(fmt.Sprintf("paid/clients=%d", clients), func(b *testing.B) {
			mu.Lock()
			settle = settle[:0]
			mu.Unlock()
			payer := &client.Payer{Key: env.PayerKey, MaxPrice: big.NewInt(benchPrice)}
			r := benchExec(b, paid.BridgeURL(), payer, clients)
			mu.Lock()
			s := slices.Clone(settle)
			mu.Unlock()
			if len(s) > 0 {
				b.ReportMetric(percentile(s, 50), "settle-p50-ms")
				b.ReportMetric(percentile(s, 99), "settle-p99-ms")
			}
			if u := unpaidRate[clients]; u > 0 {
				b.ReportMetric(r/u, "x-unpaid")
			}
		})
	}
}

// benchExec runs b.N executions from clients concurrent clients (each with
// its own warm session) and reports executions/s, request latency and the
// CPU time per execution (chain, node and clients together: on the shared
// 2-core machine the CPU of a paid request, not only its latency, bounds
// the rate, and it moves less with other processes' load).
func benchExec(b *testing.B, url string, payer *client.Payer, clients int) float64 {
	ctx := context.Background()
	cs := make([]*client.Client, clients)
	for i := range cs {
		c, err := client.New(client.Config{NodeURL: url, Policy: attest.DevPolicy(), Verifiers: nodetest.Verifiers(), Payer: payer})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Exec(ctx, client.ExecInput{Wasm: wasmtest.Hello}); err != nil { // warm: session, compile cache
			b.Fatal(err)
		}
		cs[i] = c
	}
	lat := make([][]time.Duration, clients)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for i, c := range cs {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				res, err := c.Exec(ctx, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"bench"}})
				if err != nil {
					b.Error(err)
					return
				}
				if payer != nil && (res.Payment == nil || res.Payment.Transaction == "") {
					b.Error("a paid result without its settlement")
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	rate := float64(b.N) / elapsed.Seconds()
	all := slices.Concat(lat...)
	b.ReportMetric(rate, "req/s")
	reportCPU(b, cpu)
	if len(all) > 0 {
		b.ReportMetric(percentile(all, 50), "p50-ms")
		b.ReportMetric(percentile(all, 99), "p99-ms")
	}
	b.ReportMetric(0, "ns/op")
	return rate
}

// percentile returns the p-th percentile of ds in milliseconds.
func percentile(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return float64(s[i]) / float64(time.Millisecond)
}

// BenchmarkLedgerPath measures the ledger writes of paid requests alone,
// in their pattern — Reserve, about 1 ms of work, MarkExecuted, about 6 ms
// of settlement, MarkSettled in the background — on a real bbolt file,
// with the ledger's group commit (internal/boltgroup) and with one plain
// Update per write.
func BenchmarkLedgerPath(b *testing.B) {
	for _, mode := range []struct {
		name  string
		batch bool
	}{{"update", false}, {"group", true}} {
		for _, clients := range []int{4, 32} {
			b.Run(fmt.Sprintf("%s/clients=%d", mode.name, clients), func(b *testing.B) {
				db, err := bolt.Open(filepath.Join(b.TempDir(), "ledger.db"), 0o600, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				l, err := ledger.Open(db, ledger.WithBatch(mode.batch))
				if err != nil {
					b.Fatal(err)
				}
				var (
					mu   sync.Mutex
					lat  []time.Duration
					next atomic.Int64
					wg   sync.WaitGroup
					bg   sync.WaitGroup
				)
				timed := func(f func() error) {
					t0 := time.Now()
					if err := f(); err != nil {
						b.Error(err)
					}
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
				}
				ctx := context.Background()
				b.ResetTimer()
				for range clients {
					wg.Go(func() {
						for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
							k := ledger.Key{Network: "eip155:1337", Asset: "0x00000000000000000000000000000000000000aa", Payer: "0x00000000000000000000000000000000000000bb"}
							for j := range 8 {
								k.Nonce[j] = byte(i >> (8 * j))
							}
							timed(func() error {
								return l.Reserve(ctx, ledger.Entry{Key: k, PayTo: "0x00000000000000000000000000000000000000cc", Amount: big.NewInt(benchPrice),
									RequestID: "r", Requirements: make([]byte, 300), Payload: make([]byte, 700)})
							})
							time.Sleep(time.Millisecond)
							timed(func() error { return l.MarkExecuted(ctx, k) })
							time.Sleep(6 * time.Millisecond)
							bg.Go(func() { _ = l.MarkSettled(ctx, k, "0x01") })
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				bg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
				b.ReportMetric(percentile(lat, 50), "write-p50-ms")
				b.ReportMetric(percentile(lat, 99), "write-p99-ms")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
