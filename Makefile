# agentnode — run `make run` to start a development node, `make test` to test.
GO        ?= go
BIN       := bin/agentnode
PKGS      := ./...
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT   := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

.PHONY: build run test lint bench clean fuzz testnet load

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/agentnode

run: build
	$(BIN) dev --data .data

# testnet starts N nodes and the chain on this machine (bridges on
# 127.0.0.1:3000 and up), with the demo agents; Ctrl-C stops it.
# ARGS passes more flags, e.g. make testnet N=50 ARGS=--scenario.
N ?= 5
testnet: build
	$(BIN) testnet --nodes $(N) $(ARGS)

test: interop/node_modules
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# The interop tests run the official x402 npm packages (interop/): install
# them from the committed lock when they are missing or the lock changed.
# Without npm those tests skip themselves.
interop/node_modules: interop/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix interop; else echo "npm not found: the x402 interop tests will be skipped"; fi

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

# bench runs the benchmark plan of internal/benchtable/plan.go (under 10
# minutes on 2 cores) and prints one table: medians, baselines measured in
# the same run, the issues' targets and the gaps. It writes bench/latest.md
# and the raw output bench/latest.txt (compare two runs with
# `go run $(BENCHSTAT) old.txt bench/latest.txt`). With node and the
# interop packages it also measures the official TypeScript x402 stack.
bench: interop/node_modules
	$(GO) run ./internal/benchtable -out bench/latest.md -raw bench/latest.txt

clean:
	rm -rf bin

# fuzz runs every fuzz target of the module for FUZZTIME each, one after
# the other, and prints a table of executions (internal/fuzzrun). A failing
# input is left under the package's testdata/fuzz/ as a seed.
FUZZTIME ?= 30s
fuzz:
	$(GO) run ./internal/fuzzrun -fuzztime $(FUZZTIME)

# load runs the load test (internal/loadtest): LOAD_DURATION of encrypted,
# paid and search load on one node, then on a 5-node testnet, then an
# overload that must be shed with 503; it writes bench/load.md and fails
# if any run saw an unexpected error or did not come back to its
# goroutines and heap.
LOAD_DURATION ?= 60s
load:
	$(GO) run ./internal/loadtest/cmd/load -duration $(LOAD_DURATION) -out bench/load.md

# agents rebuilds the demo agents' modules (agents/*/agent.wasm) with the
# flags that make them reproducible; go test ./agents checks the committed
# modules against a fresh build.
AGENTS := arxiv notary textstats research
.PHONY: agents
agents:
	@for a in $(AGENTS); do \
		echo "build agents/$$a/agent.wasm"; \
		GOOS=wasip1 GOARCH=wasm GOFLAGS= CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags="-s -w" \
			-o agents/$$a/agent.wasm ./agents/$$a || exit 1; \
	done
