package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/agentnet/agentnode/node"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dev", stderr)
	listen := fs.String("http", "127.0.0.1:3000", "bridge listen address")
	data := fs.String("data", "", "data directory (default: a new temporary directory)")
	price := fs.Uint64("price", 0, "execution price in the payment token's atomic units; 0 = free")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
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
	cfg := node.Config{Listening: *listen, DataDir: dir, TEE: "sim", Price: *price, LogLevel: *logLevel}
	return serve(ctx, cfg, stdout, stderr, func(n *node.Node) {
		fmt.Fprintf(stdout, `agentnode dev is running (simulated TEE: for development only)
  bridge:  %s
  peer id: %s
  data:    %s

Try it (from the repository root):
  go run ./cmd/agentnode exec --node %[1]s --allow-sim --wasm enclave/wasm/wasmtest/testdata/echo_args.wasm --arg hello --arg world
  curl %[1]s/v1/node

Ctrl-C stops the node.
`, n.BridgeURL(), n.PeerID(), dir)
	})
}
