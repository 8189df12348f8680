package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/x402/chain"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dev", stderr)
	listen := fs.String("http", "127.0.0.1:3000", "bridge listen address")
	data := fs.String("data", "", "data directory (default: a new temporary directory)")
	price := fs.Uint64("price", devPrice, "execution price in the dev token's atomic units (x402 on the embedded chain); 0 = free")
	rpcAddr := fs.String("rpc", "127.0.0.1:0", "the embedded chain's JSON-RPC listen address (loopback only)")
	maxLead := fs.Duration("max-lead", chain.DefaultMaxLead, "how far the chain's clock may run ahead of the wall clock under load before blocks slow to one a second (raise it for load tests; payments are then asked for a window a few minutes longer)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	appPath := fs.String("app-path", "", "directory of deployed agents (default: <data>/agents)")
	p2pListen := fs.String("p2p-listen", "/ip4/127.0.0.1/tcp/0", "libp2p listen multiaddr")
	var boot multiFlag
	fs.Var(&boot, "bootstrap", "a dev node to join, as its p2p address ending in /p2p/<peer id> (repeatable)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	dir := *data
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "agentnode-dev-"); err != nil {
			fmt.Fprintf(stderr, "agentnode dev: %v\n", err)
			return 1
		}
	}
	cfg := node.Config{Listening: *listen, DataDir: dir, TEE: "sim", Price: *price, LogLevel: *logLevel,
		AppPath: *appPath, P2PListen: []string{*p2pListen}, Bootstrap: boot, P2PTTL: "testnet"}
	ch, info, gasFile, err := startDevChain(ctx, dir, chain.Config{Addr: *rpcAddr, MaxLead: *maxLead}, newLogger(stderr, "warn").With("component", "chain"))
	if err != nil {
		fmt.Fprintf(stderr, "agentnode dev: %v\n", err)
		return 1
	}
	defer ch.Close()
	devPayments(&cfg, ch, info, gasFile)
	if *maxLead > chain.DefaultMaxLead {
		cfg.PaymentTimeout = node.Duration{Duration: *maxLead + 3*time.Minute}
	}
	return serve(ctx, cfg, stdout, stderr, func(n *node.Node) {
		info.BridgeURL = n.BridgeURL()
		if err := info.WriteFile(filepath.Join(dir, devJSON)); err != nil {
			fmt.Fprintf(stderr, "agentnode dev: %v\n", err)
		}
		fmt.Fprintf(stdout, `agentnode dev is running (simulated TEE: for development only)
  bridge:  %s
  peer id: %s
  data:    %s
  p2p:     %[4]s

Try it (from the repository root):
  go run ./cmd/agentnode exec --node %[1]s --allow-sim --wasm enclave/wasm/wasmtest/testdata/echo_args.wasm --arg hello --arg world
  curl %[1]s/v1/node

  # Deploy an agent, find it by what it does, call it through the network:
  mkdir -p /tmp/echo && cp enclave/wasm/wasmtest/testdata/echo_args.wasm /tmp/echo/agent.wasm
  printf 'name = "echo"\ndescription = "repeats its arguments back"\n' > /tmp/echo/agent.toml
  go run ./cmd/agentnode deploy --node %[1]s /tmp/echo
  go run ./cmd/agentnode search --node %[1]s "repeat my arguments"
  go run ./cmd/agentnode call --node %[1]s --allow-sim %[2]s/echo --arg hello

  # A second dev node joins this one's network:
  go run ./cmd/agentnode dev --http 127.0.0.1:3001 --bootstrap %[4]s
`, n.BridgeURL(), n.PeerID(), dir, firstAddr(n.P2PAddrs()))
		printDevPayments(stdout, n.BridgeURL(), dir, *price, info)
		fmt.Fprintln(stdout, "\nCtrl-C stops the node.")
	})
}
