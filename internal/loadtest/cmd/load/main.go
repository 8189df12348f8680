// Command load runs agentnode's load test and writes its figures, in
// Markdown, to bench/load.md: `make load` (LOAD_DURATION=60s). It runs,
// one after the other, a load on one node, a load on a testnet, and an
// overload (more clients than the node takes executions), each against a
// fresh system in this process, and exits 1 if any run saw what a healthy
// node never does (see loadtest.Report.Check).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agentnet/agentnode/internal/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", loadtest.DefaultDuration, "load of each run")
	nodes := fs.String("nodes", "1,5", "comma-separated sizes: 1 is one node, more a testnet")
	clients := fs.Int("clients", loadtest.DefaultClients, "workers per kind of operation")
	overload := fs.Duration("overload", 15*time.Second, "overload run on one node (0 skips it)")
	overClients := fs.Int("overload-clients", 32, "workers per kind in the overload run")
	overInflight := fs.Int("overload-inflight", 8, "max_inflight_executions in the overload run")
	out := fs.String("out", "bench/load.md", "where the report goes (- for stdout)")
	settle := fs.Duration("settle", loadtest.DefaultSettle, "pause before each memory and goroutine measurement")
	heap := fs.String("heapprofile", "", "directory to write each run's heap profiles to, before and after (go tool pprof -diff_base)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var sizes []int
	for _, s := range strings.Split(*nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "load: -nodes %q: want sizes like 1,5\n", *nodes)
			return 2
		}
		sizes = append(sizes, n)
	}
	type phase struct {
		title string
		cfg   loadtest.Config
	}
	var phases []phase
	for _, n := range sizes {
		title := "One node"
		if n > 1 {
			title = fmt.Sprintf("A %d-node testnet", n)
		}
		phases = append(phases, phase{title, loadtest.Config{Duration: *duration, Nodes: n, Clients: *clients, Settle: *settle, Progress: stderr}})
	}
	if *overload > 0 {
		phases = append(phases, phase{"Overload: one node, more clients than it takes executions", loadtest.Config{Duration: *overload, Nodes: 1,
			Clients: *overClients, Kinds: []loadtest.Kind{loadtest.Exec, loadtest.Paid}, MaxInflight: *overInflight, MaxConcurrent: 2, Settle: *settle, Progress: stderr}})
	}
	var body bytes.Buffer
	failed := 0
	for i, p := range phases {
		fmt.Fprintf(stderr, "== %s\n", p.title)
		if *heap != "" {
			p.cfg.HeapProfile = filepath.Join(*heap, fmt.Sprintf("run%d", i+1))
		}
		r, err := loadtest.Run(ctx, p.cfg)
		if err != nil {
			fmt.Fprintf(stderr, "load: %s: %v\n", p.title, err)
			return 1
		}
		r.Markdown(&body, p.title)
		if err := r.Check(); err != nil {
			failed++
			fmt.Fprintf(stderr, "load: %s: %v\n", p.title, err)
		}
	}
	var doc bytes.Buffer
	fmt.Fprintf(&doc, `# Load test

Written by `+"`make load`"+` (internal/loadtest/cmd/load) on %s: Go %s, %s/%s, %d CPUs
(GOMAXPROCS %d). Everything runs in one process on loopback: the embedded chain, the
node(s) on the simulated TEE, and the clients, so the memory and goroutine figures are the
whole process's. Each worker is one client with its own session, looping until the deadline;
latencies are of the operations that succeeded. "Before" is measured after a warm-up (one
operation per worker), "after" once the load stopped; each time the clients have dropped their
idle connections, %s have passed and the garbage was collected.

Memory: with payments, the heap grows with the embedded chain, which keeps every block and its
state in memory, 4-6 KiB per settlement depending on how many share a block (a heap profile of a paid run, from -heapprofile
DIR through go tool pprof -diff_base, puts the growth in go-ethereum's memorydb, trie and RLP
buffers and the settler's bounded nonce cache); exec and search alone grow it by 1-2 MiB, most
of it the load generator's own latency records. The check allows 16 MiB plus 8 KiB per
settlement. RSS also holds the ledger's memory-mapped file.

- exec: an encrypted execution (sealed request, attested session, verified result), unpaid.
- paid: the same, paid with x402 (EIP-3009 on the embedded chain), settled before release.
- search: POST /search.
- call: a paid remote call through another node (libp2p attest + exec streams).

`, time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.TrimPrefix(runtime.Version(), "go"), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0), *settle)
	doc.Write(body.Bytes())
	if *out == "-" {
		_, _ = stdout.Write(doc.Bytes())
	} else if err := os.WriteFile(*out, doc.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 1
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "load: %d of %d runs failed their check\n", failed, len(phases))
		return 1
	}
	return 0
}
