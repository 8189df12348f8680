package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func runPeers(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("peers", stderr)
	nodeURL := fs.String("node", "http://127.0.0.1:3000", "the node's bridge URL")
	asJSON := fs.Bool("json", false, "print the node's answer as JSON")
	token := fs.String("token", os.Getenv("AGENTNODE_API_TOKEN"), "the bridge's API token, when it requires one (default $AGENTNODE_API_TOKEN)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := failer(stderr, "peers")
	c, err := bridgeClient(*nodeURL, *token)
	if err != nil {
		return fail("%v", err)
	}
	resp, err := c.Peers(ctx)
	if err != nil {
		return fail("%s", oneLine(err))
	}
	if *asJSON {
		return writeJSON(stdout, fail, resp)
	}
	fmt.Fprintf(stdout, "peer id:       %s\n", resp.PeerID)
	for _, a := range resp.Addresses {
		fmt.Fprintf(stdout, "address:       %s\n", a)
	}
	fmt.Fprintf(stdout, "routing table: %d peers\nconnected:     %d peers\n", resp.RoutingTable, len(resp.Peers))
	for _, p := range resp.Peers {
		addr := ""
		if len(p.Addrs) > 0 {
			addr = p.Addrs[0]
		}
		fmt.Fprintf(stdout, "  %s  %s\n", p.PeerID, addr)
	}
	return 0
}

// firstAddr returns the first of a node's p2p addresses, or "(p2p off)".
func firstAddr(addrs []string) string {
	if len(addrs) == 0 {
		return "(p2p off)"
	}
	return addrs[0]
}
