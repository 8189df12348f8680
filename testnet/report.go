package testnet

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/agentnet/agentnode/node/agentstore"
)

// Print writes what a user of the testnet needs: where everything is, a
// table of the nodes, and commands to try that work as they are pasted.
// cmd is how the user runs agentnode, e.g. "bin/agentnode" or
// "go run ./cmd/agentnode".
func (t *Testnet) Print(w io.Writer, cmd string) error {
	tm := t.timing
	mode := "in one process"
	if t.cfg.Processes {
		mode = "one process each"
	}
	rss := t.RSS()
	fmt.Fprintf(w, "agentnode testnet: %d nodes (%s) ready in %s (chain %s, nodes %s, routing tables %s, agents %s)\n",
		len(t.nodes), mode, round(tm.Ready), round(tm.Chain), round(tm.Nodes), round(tm.RoutingTables), round(tm.Agents))
	fmt.Fprintln(w, "  simulated TEE: for development only, it proves no hardware isolation")
	fmt.Fprintf(w, "  chain:   %s (%s), token %s (%s, 6 decimals; worth nothing)\n", t.dev.RPCURL, t.dev.Network, t.dev.Token, t.dev.TokenName)
	fmt.Fprintf(w, "  data:    %s (%s has a funded demo payer's key; %s lists the nodes)\n", t.cfg.DataDir, DevJSON, InfoJSON)
	if rss > 0 {
		fmt.Fprintf(w, "  memory:  %d MB resident\n", rss>>20)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPEER ID\tBRIDGE\tAGENTS (price)")
	prices := t.prices()
	for _, n := range t.nodes {
		var as []string
		for _, a := range n.Agents {
			as = append(as, fmt.Sprintf("%s (%d)", a, prices[a]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, n.PeerID, n.BridgeURL, strings.Join(as, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	n0 := t.nodes[0]
	fmt.Fprintf(w, "\nStatus page: %s/ui/ (nodes, connections, agents, executions and payments, live)\n", n0.BridgeURL)
	if len(t.nodes) < 2 || len(t.cfg.Agents) == 0 {
		return nil
	}
	// The first agent never runs on node 0 (see Assign).
	a := t.cfg.Agents[0].Name
	i := slices.IndexFunc(t.nodes, func(n NodeInfo) bool { return slices.Contains(n.Agents, a) })
	if i < 0 {
		return nil
	}
	n1 := t.nodes[i]
	price := prices[a]
	dev := filepath.Join(t.cfg.DataDir, DevJSON)
	fmt.Fprintf(w, `
Try it:
  # Find agents by what they do (%[3]s asks the DHT and verifies every card):
  %[1]s search --node %[2]s %[4]q

  # %[3]s calls %[5]s on %[6]s over libp2p and pays %[7]d from its own payer; the receipt is checked again here:
  %[1]s call --node %[2]s --allow-sim %[8]s/%[5]s --arg %[4]q

  # Pay with the demo payer yourself, straight to %[6]s's bridge, and check the settlement on the chain:
  %[1]s exec --node %[9]s --allow-sim --pay-key-file %[10]s --max-price %[7]d --agent %[5]s --arg attention --json > receipt.json
  %[1]s receipt verify receipt.json --allow-sim --rpc %[11]s

  # The network as %[3]s sees it:
  curl -s %[2]s/v1/peers
`, cmd, n0.BridgeURL, n0.Name, DefaultQuery, a, n1.Name, price, n1.PeerID, n1.BridgeURL, dev, t.dev.RPCURL)
	// An agent that calls others (agents/research), where one runs on
	// another node than 0.
	const relay = "research"
	if i := slices.IndexFunc(t.nodes[1:], func(n NodeInfo) bool { return slices.Contains(n.Agents, relay) }); i >= 0 {
		r := t.nodes[i+1]
		fmt.Fprintf(w, `
  # An agent that calls another: %[3]s on %[4]s finds %[5]s through the network and pays it from its budget:
  %[1]s call --node %[2]s --allow-sim %[6]s/%[3]s --arg attention
`, cmd, n0.BridgeURL, relay, r.Name, a, r.PeerID)
	}
	return nil
}

// prices returns each agent's manifest price.
func (t *Testnet) prices() map[string]uint64 {
	out := map[string]uint64{}
	for _, a := range t.cfg.Agents {
		if m, err := agentstore.ParseManifest(a.Manifest); err == nil {
			out[a.Name] = m.CallPrice()
		}
	}
	return out
}

// RSS returns the resident memory of the testnet: this process, plus the
// node processes in the process mode. 0 where it cannot be read.
func (t *Testnet) RSS() int64 {
	total, _ := SelfRSS()
	for _, m := range t.members {
		if m != nil {
			total += m.rss()
		}
	}
	return total
}
