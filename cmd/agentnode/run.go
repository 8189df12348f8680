package main

import (
	"context"
	"fmt"
	"io"

	"github.com/agentnet/agentnode/node"
)

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", stderr)
	path := fs.String("config", "", "TOML configuration file (see docs/config.md)")
	var listen, boot multiFlag
	fs.Var(&listen, "p2p-listen", "libp2p listen multiaddr, replacing the config's p2p_listen (repeatable)")
	fs.Var(&boot, "bootstrap", "peer to join the network through, a multiaddr ending in /p2p/<peer id>, replacing the config's bootstrap (repeatable)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg := node.Config{}
	if *path != "" {
		var err error
		if cfg, err = node.LoadConfig(*path); err != nil {
			fmt.Fprintf(stderr, "agentnode run: %v\n", err)
			return 1
		}
	}
	if len(listen) > 0 {
		cfg.P2PListen = listen
	}
	if len(boot) > 0 {
		cfg.Bootstrap = boot
	}
	return serve(ctx, cfg, stdout, stderr, nil)
}

// serve starts a node, calls ready once it listens, and runs until ctx is
// done (Ctrl-C).
func serve(ctx context.Context, cfg node.Config, stdout, stderr io.Writer, ready func(*node.Node)) int {
	n, err := node.New(cfg, newLogger(stderr, cfg.LogLevel))
	if err != nil {
		fmt.Fprintf(stderr, "agentnode: %v\n", err)
		return 1
	}
	if err := n.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "agentnode: %v\n", err)
		return 1
	}
	if ready != nil {
		ready(n)
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping")
	if err := n.Close(); err != nil {
		fmt.Fprintf(stderr, "agentnode: stop: %v\n", err)
		return 1
	}
	return 0
}
