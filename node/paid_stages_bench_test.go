package node_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/agentnet/agentnode/internal/tracetest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/x402test"
)

// paidStages are the regions (runtime/trace) a paid request passes
// through, in order, with the metric each one's median is reported as.
var paidStages = []struct{ region, metric string }{
	{"exec.open", "open-ms"},                // open the sealed request
	{"x402.verify", "verify-ms"},            // signature + one eth_call batch
	{"x402.reserve", "reserve-ms"},          // ledger: reserved, in memory
	{"exec.run", "run-ms"},                  // run, commit, sign, seal the result
	{"x402.record_executed", "executed-ms"}, // ledger: executed, on disk
	{"x402.settle", "settle-ms"},            // the facilitator's Settle, of which:
	{"evm.check", "settle-check-ms"},        //   authorizationState, balance, simulation
	{"evm.send", "settle-send-ms"},          //   sign and submit the transaction
	{"evm.receipt", "settle-receipt-ms"},    //   wait for the block and the receipt
	{"chain.seal", "chain-seal-ms"},         // the dev chain sealing one block
}

// BenchmarkPaidStages breaks the latency of a paid execution (4 clients,
// as BenchmarkPaidExec) down by stage: it runs the requests under an
// execution trace and reports the median of each region the paid path
// marks, next to the request's own median. The trace costs a little, so
// the rate here is not the one to quote; BenchmarkPaidExec's is.
func BenchmarkPaidStages(b *testing.B) {
	env := x402test.NewEnv(b, chain.Config{MaxLead: benchMaxLead})
	cfg := paidConfig(env, b.TempDir(), benchPrice)
	cfg.PaymentTimeout = node.Duration{Duration: benchMaxLead + time.Hour}
	paid := nodetest.StartConfig(b, cfg)
	payer := &client.Payer{Key: env.PayerKey, MaxPrice: big.NewInt(benchPrice)}
	regions, err := tracetest.Record(func() { benchExec(b, paid.BridgeURL(), payer, 4) })
	if err != nil {
		b.Skip(err) // a trace is running already (go test -trace)
	}
	for _, st := range paidStages {
		d, ok := regions.Percentile(st.region, 50)
		if !ok {
			b.Fatalf("no %s region: the paid path no longer marks it", st.region)
		}
		b.ReportMetric(float64(d)/float64(time.Millisecond), st.metric)
	}
}
