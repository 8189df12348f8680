package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentnet/agentnode/testnet"
)

func runTestnet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("testnet", stderr)
	nodes := fs.Int("nodes", testnet.DefaultNodes, fmt.Sprintf("number of nodes (1-%d)", testnet.MaxNodes))
	basePort := fs.Int("base-port", 3000, "node i's bridge listens on 127.0.0.1:<base-port + i>; 0 picks free ports")
	data := fs.String("data", "", "data directory (default: a new temporary directory); it stays after the testnet stops")
	scenario := fs.Bool("scenario", false, "run the end-to-end scenario once the testnet is ready, then stop; exit non-zero if any step fails")
	stay := fs.Bool("stay", false, "with --scenario: keep the testnet running after the scenario until Ctrl-C")
	processes := fs.Bool("processes", false, "run each node as its own `agentnode run` process (config files in the data directory)")
	searches := fs.Int("searches", testnet.DefaultSearches, "with --scenario: searches from random nodes to measure (-1: none)")
	calls := fs.Int("calls", testnet.DefaultCalls, "with --scenario: paid calls from random nodes to measure (-1: none)")
	cache := fs.String("cache", defaultTestnetCache(), "compilation cache the nodes share, kept across testnets (\"\": one in the data directory)")
	rpcAddr := fs.String("rpc", "127.0.0.1:0", "the embedded chain's JSON-RPC listen address (loopback only)")
	logLevel := fs.String("log-level", "warn", "the nodes' log level: debug, info, warn or error")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := failer(stderr, "testnet")
	if *nodes < 1 || *nodes > testnet.MaxNodes {
		return fail("--nodes %d: want 1 to %d", *nodes, testnet.MaxNodes)
	}
	if *stay && !*scenario {
		return fail("--stay keeps the testnet running after --scenario: give both (without --scenario the testnet runs until Ctrl-C anyway)")
	}
	dir := *data
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "agentnode-testnet-"); err != nil {
			return fail("%v", err)
		}
	}
	cfg := testnet.Config{Nodes: *nodes, BasePort: *basePort, DataDir: dir, CacheDir: *cache, Processes: *processes, RPCAddr: *rpcAddr,
		LogLevel: *logLevel, Logger: newLogger(stderr, *logLevel), Progress: stdout}
	if *processes {
		exe, err := os.Executable()
		if err != nil {
			return fail("find the agentnode binary for --processes: %v", err)
		}
		cfg.Binary = exe
	}
	fmt.Fprintf(stdout, "starting a testnet of %d nodes in %s\n", *nodes, dir)
	tn, err := testnet.Start(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return fail("interrupted before the testnet was ready; everything it started is stopped, the data stays in %s", dir)
		}
		return fail("%v", err)
	}
	code := 0
	stop := func() {
		fmt.Fprintln(stdout, "stopping")
		if err := tn.Close(); err != nil {
			fmt.Fprintf(stderr, "agentnode testnet: stop: %v\n", err)
			code = 1
		}
		fmt.Fprintf(stdout, "stopped; the data stays in %s\n", dir)
	}
	fmt.Fprintln(stdout)
	if err := tn.Print(stdout, selfCommand()); err != nil {
		stop()
		return fail("%v", err)
	}
	if *scenario {
		fmt.Fprintln(stdout)
		start := time.Now()
		_, err := tn.RunScenario(ctx, testnet.ScenarioConfig{Searches: *searches, Calls: *calls, Out: stdout})
		if err != nil {
			fmt.Fprintf(stderr, "agentnode testnet: scenario failed: %v\n", err)
			stop()
			return 1
		}
		now, peak := testnet.SelfRSS()
		fmt.Fprintf(stdout, "scenario took %s; memory: %d MB resident (peak %d MB), %d MB with the node processes\n",
			time.Since(start).Round(time.Millisecond), now>>20, peak>>20, tn.RSS()>>20)
		if !*stay {
			stop()
			return code
		}
	}
	fmt.Fprintln(stdout, "\nCtrl-C stops the testnet.")
	<-ctx.Done()
	stop()
	return code
}

// selfCommand is how the user ran this binary, for the commands printed
// to try: "go run ./cmd/agentnode" under go run, else the path as typed
// (relative to the working directory when it is below it).
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "agentnode"
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/agentnode"
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, exe); err == nil && !strings.HasPrefix(rel, "..") {
			if !strings.ContainsRune(rel, filepath.Separator) {
				rel = "." + string(filepath.Separator) + rel
			}
			return rel
		}
	}
	return exe
}

// defaultTestnetCache is where testnets keep compiled agents by default:
// the user's cache directory, so that the demo agents are compiled once
// per machine and wazero version rather than once per testnet.
func defaultTestnetCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "agentnode", "testnet-wasm")
}
