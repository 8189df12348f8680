package main

import (
	"slices"
	"time"
)

// The one place that says what `make bench` runs and what it checks.
//
// Suites are the go test invocations, in the order they run. Their
// benchtimes are chosen so that the whole run (builds included, on a
// cached build) stays under 10 minutes on 2 cores; the benchmarks that
// carry a target run 6 times, so that the median and its confidence
// interval mean something.
//
// Rows are the checked lines of the table: a benchmark's metric, the
// baseline it is compared with in the same run, and the target the issues
// set. Every other benchmark result of the run is listed after them,
// without a target.

// tsKey is the key of the official TypeScript x402 stack's measurement
// (interop/bench-ts.mjs), which the run adds to the results in the
// benchmark format when node and interop/node_modules are there.
const tsKey = "interop:TSStack/clients=4"

// tsNotesRate is the TypeScript stack's rate at 4 clients in
// shared/notes/x402.md §14 (26–37 req/s): the upper end, used as the
// baseline when the stack cannot be measured in the run.
const tsNotesRate = 37

// suites is the run plan.
var suites = []Suite{
	{Pkg: "./enclave/wasm", Bench: "^BenchmarkExecHello$", Benchtime: "50000x", Count: 6},
	{Pkg: "./enclave/wasm", Bench: "^(BenchmarkExecHelloParallel|BenchmarkCompileHit|BenchmarkScanManyFuncs)$", Benchtime: "200ms", Count: 1},
	{Pkg: "./enclave/wasm/meter", Bench: "^BenchmarkMeter$", Benchtime: "200ms", Count: 6},
	{Pkg: "./enclave/wasm/meter", Bench: "^BenchmarkOutOfFuel$", Benchtime: "10x", Count: 6},
	{Pkg: "./enclave/wasm/meter", Bench: "^(BenchmarkInstrument|BenchmarkCompile)$", Benchtime: "2x", Count: 1},
	{Pkg: "./enclave/seal", Bench: ".", Benchtime: "2000x", Count: 1},
	{Pkg: "./enclave/attest/tdx", Bench: ".", Benchtime: "50x", Count: 6},
	{Pkg: "./enclave/attest/snp", Bench: ".", Benchtime: "50x", Count: 6},
	{Pkg: "./node/bridge", Bench: "^BenchmarkBridgeExec(Plain)?$", Benchtime: "4000x", Count: 6},
	{Pkg: "./node", Bench: "^BenchmarkRemoteCall$", Benchtime: "1000x", Count: 6},
	{Pkg: "./node", Bench: "^BenchmarkSearch$", Benchtime: "100x", Count: 6},
	{Pkg: "./node", Bench: "^BenchmarkPaidExec$", Benchtime: "500x", Count: 6, TS: true},
	{Pkg: "./node", Bench: "^BenchmarkPaidStages$", Benchtime: "300x", Count: 3},
	{Pkg: "./node", Bench: "^(BenchmarkLedgerPath|BenchmarkAgentCall)$", Benchtime: "100x", Count: 1},
	{Pkg: "./x402/policy", Bench: "^BenchmarkPolicyDecision$", Benchtime: "20000x", Count: 6},
	{Pkg: "./x402/policy", Bench: "^BenchmarkAuthorize$", Benchtime: "500x", Count: 1},
	{Pkg: "./x402/evm", Bench: "^BenchmarkVerifyPayment", Benchtime: "2000x", Count: 6},
	{Pkg: "./x402/evm", Bench: "^BenchmarkSettle$/^period=1ms/", Benchtime: "200x", Count: 1},
	{Pkg: "./x402/ledger", Bench: ".", Benchtime: "200x", Count: 1},
	{Pkg: "./p2p", Bench: ".", Benchtime: "1000x", Count: 1},
	{Pkg: "./p2p/discovery", Bench: ".", Benchtime: "50x", Count: 6},
	{Pkg: "./script", Bench: ".", Benchtime: "5000x", Count: 1},
	{Pkg: "./node/activity", Bench: ".", Benchtime: "100000x", Count: 1},
	{Pkg: "./node/ui", Bench: ".", Benchtime: "500x", Count: 1},
	{Pkg: "./agents", Bench: ".", Benchtime: "3x", Count: 1},
	{Pkg: "./agents/arxiv", Bench: ".", Benchtime: "200x", Count: 1},
	{Pkg: "./agents/notary", Bench: ".", Benchtime: "50x", Count: 1},
	{Pkg: "./agents/textstats", Bench: ".", Benchtime: "50x", Count: 1},
	{Pkg: "./cmd/agentnode", Bench: ".", Benchtime: "20x", Count: 1},
	{Pkg: "./testnet", Bench: ".", Benchtime: "20x", Count: 1},
}

// rows are the checked lines of the table, in the order they print.
var rows = slices.Concat([]Row{
	{Name: "ExecHello: warm instantiate + run + close", Key: "enclave/wasm:ExecHello", Unit: "ns/op",
		Targets: []Target{AtMost(20_000)}},

	{Name: "BridgeExec: encrypted execution over HTTP", Key: "node/bridge:BridgeExec", Unit: "execs/s",
		Targets: []Target{AtLeast(2_500)}},
	{Name: "BridgeExec vs plain handler", Key: "node/bridge:BridgeExec", Unit: "ns/op", Baseline: "node/bridge:BridgeExecPlain",
		Targets: []Target{RatioAtMost(2)}, Note: noteSealFloor},
	{Name: "BridgeExec vs plain handler, CPU per request", Key: "node/bridge:BridgeExec", Unit: "cpu-µs/op", Baseline: "node/bridge:BridgeExecPlain",
		Targets: []Target{RatioAtMost(2)}, Note: noteSealFloor},

	{Name: "VerifyTDX: sample quote, no collateral", Key: "enclave/attest/tdx:VerifyTDX/sample/no-collateral", Unit: "ns/op",
		Targets: []Target{AtMost(5e6)}},
	{Name: "VerifyTDX: fake chain, cached collateral", Key: "enclave/attest/tdx:VerifyTDX/fake/cached-collateral", Unit: "ns/op",
		Targets: []Target{AtMost(5e6)}},
	{Name: "VerifySNP: sample report + VCEK", Key: "enclave/attest/snp:VerifySNP/sample/vcek", Unit: "ns/op",
		Targets: []Target{AtMost(5e6)}},
	{Name: "VerifySNP: fake chain, certificate table", Key: "enclave/attest/snp:VerifySNP/fake/cert-table", Unit: "ns/op",
		Targets: []Target{AtMost(5e6)}},

	{Name: "Search: 3 terms, 10 nodes (node, card cache)", Key: "node:Search", Unit: "p50-ms",
		Targets: []Target{AtMost(50)}},
	{Name: "Search: 3 terms, 10 nodes (discovery, cold)", Key: "p2p/discovery:Search/cold", Unit: "p50-ms",
		Targets: []Target{AtMost(50)}},
	{Name: "RemoteCall: 4 in flight", Key: "node:RemoteCall/call-parallel", Unit: "calls/s",
		Targets: []Target{AtLeast(1_000)}},
	{Name: "RemoteCall vs libp2p request/response (p50)", Key: "node:RemoteCall/call", Unit: "p50-µs", Baseline: "node:RemoteCall/baseline",
		Targets: []Target{RatioAtMost(3)}, Note: noteCallFloor},
	{Name: "RemoteCall vs libp2p request/response (4 in flight)", Key: "node:RemoteCall/call-parallel", Unit: "ns/op", Baseline: "node:RemoteCall/baseline-parallel",
		Targets: []Target{RatioAtMost(3)}, Note: noteCallFloor},
	{Name: "RemoteCall vs libp2p request/response, CPU per call", Key: "node:RemoteCall/call", Unit: "cpu-µs/op", Baseline: "node:RemoteCall/baseline",
		Targets: []Target{RatioAtMost(3)}, Note: noteCallFloor},

	{Name: "PolicyDecision: 20-line payer policy", Key: "x402/policy:PolicyDecision", Unit: "ns/op",
		Targets: []Target{AtMost(50_000)}},
	{Name: "VerifyPayment: signature + local checks", Key: "x402/evm:VerifyPayment", Unit: "ns/op"},

	{Name: "PaidExec, 4 clients, vs official TS x402 stack", Key: "node:PaidExec/paid/clients=4", Unit: "req/s", Baseline: tsKey,
		Targets: []Target{RatioAtLeast(10)}, Note: notePaidPath},
	{Name: "PaidExec, 4 clients, vs unpaid encrypted", Key: "node:PaidExec/paid/clients=4", Unit: "req/s", Baseline: "node:PaidExec/unpaid/clients=4"},
	{Name: "PaidExec, 4 clients, settlement p50", Key: "node:PaidExec/paid/clients=4", Unit: "settle-p50-ms"},
	{Name: "PaidExec, 32 clients, vs unpaid encrypted", Key: "node:PaidExec/paid/clients=32", Unit: "req/s", Baseline: "node:PaidExec/unpaid/clients=32"},
	{Name: "PaidExec, 32 clients, settlement p50", Key: "node:PaidExec/paid/clients=32", Unit: "settle-p50-ms"},
}, stageRows(), meterRows())

// Notes on the known gaps: the floor the design sets, measured on the
// 2-core development machine (November 2026), and where the rest goes.
const (
	noteSealFloor = "The design's floor (DESIGN.md 2.2: HPKE single shot per message both ways, a signed commitment): " +
		"every request costs 2 HPKE seals and 2 opens (2 X25519 key generations and 4 X25519 multiplications, 30 µs each; " +
		"SealOpen/x25519 in this table is one seal + one open) plus an Ed25519 signature (17 µs) and verification (38 µs): " +
		"about 240 µs of CPU before any hashing, AEAD or encoding, against about 60 µs (cpu-µs/op) for the whole plain request, " +
		"so the CPU ratio cannot drop below about 5x without changing the protocol, and the wall-clock ratio grows with the " +
		"machine's load; CPU profiles leave about 100 µs per request of other overhead (two JSON layers with hex, GC, HTTP), spread thin"
	noteCallFloor = "The same sealing and signing (about 240 µs of CPU before hashing and encoding) lies on each call's critical " +
		"path, against a libp2p round trip of about 85-100 µs (p50, cpu-µs/op): a floor of about 3.5-4x without changing the protocol"
	notePaidPath = "At 4 clients a paid request waits (PaidStages rows): about 0.5 ms of verification, the run, and the block " +
		"wait (BlockPeriod 1 ms plus about 1 ms of sealing, and the receipt); its one ledger commit (executed, on disk; the reservation " +
		"is held in memory) is written while the settlement goes out, 0.4-0.8 ms on an idle disk and 4-9 ms when other processes load " +
		"the shared ext4 journal, and delays the answer only when it outlasts the block; and it costs 2.5-3 ms of CPU (cpu-µs/op: chain, " +
		"node and clients in one process, about 40% of it go-ethereum's RPC, block production and signature recovery), so the two cores " +
		"are busy too; the ratio moves with the machine's load and the disk's fsync latency at the time of the run"
)

// stageRows break a paid request at 4 clients down by stage
// (BenchmarkPaidStages: medians of the runtime/trace regions of the paid
// path), for the record: no targets.
func stageRows() []Row {
	var out []Row
	for _, st := range []struct{ name, unit string }{
		{"request (client to client)", "p50-ms"},
		{"verify (signature + eth_call batch)", "verify-ms"},
		{"reserve (ledger, in memory)", "reserve-ms"},
		{"run (execute, commit, sign, seal)", "run-ms"},
		{"record executed (on disk, beside the settlement)", "executed-ms"},
		{"settle (check + send + receipt)", "settle-ms"},
		{"settle: wait for block and receipt", "settle-receipt-ms"},
		{"chain: seal one block", "chain-seal-ms"},
	} {
		out = append(out, Row{Name: "PaidStages: " + st.name, Key: "node:PaidStages", Unit: st.unit})
	}
	return out
}

// meterWorkloads are issue 8's four workloads: metered must beat the
// unmetered module stopped by WithCloseOnContextDone on each, and stay
// within 2.5x of native Go on fib and sha256.
var meterWorkloads = []struct {
	name   string
	native bool
}{{"loop", false}, {"fib", true}, {"sha256", true}, {"json", false}}

// noteMeterNative explains a metered-vs-native ratio over the bound (fib,
// in runs where wazero's code for it is slower).
const noteMeterNative = "wazero's code for the module without metering (the plain row) is itself about 2.0x native Go " +
	"on fib, and metering adds 1.1-1.2x to it (the fuel lives in a local; a store before and a load after each call), " +
	"so the ratio sits near 2.3x and a noisy run can cross 2.5x"

func meterRows() []Row {
	var out []Row
	for _, w := range meterWorkloads {
		key := "enclave/wasm/meter:Meter/" + w.name
		out = append(out, Row{Name: "Meter " + w.name + ": metered vs deadline", Key: key + "/metered", Unit: "ns/op",
			Baseline: key + "/deadline", Targets: []Target{RatioBelow(1)}})
		if w.native {
			out = append(out, Row{Name: "Meter " + w.name + ": metered vs native Go", Key: key + "/metered", Unit: "ns/op",
				Baseline: key + "/native", Targets: []Target{RatioAtMost(2.5)}, Note: noteMeterNative})
		}
	}
	return append(out, Row{Name: "OutOfFuel: spin with fuel 1e7 until stopped", Key: "enclave/wasm/meter:OutOfFuel", Unit: "ns/op",
		Targets: []Target{AtMost(50e6)}})
}

// budget is the run time the plan is designed for; the table says when a
// run took longer.
const budget = 10 * time.Minute
