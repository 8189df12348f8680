package testnet

import (
	"context"
	"fmt"

	"github.com/agentnet/agentnode/node/ui"
)

// status is the status page of node 0 in a testnet in this process:
// every node with its connections, agents and activity.
func (t *Testnet) status(context.Context) (ui.Status, error) {
	t.mu.RLock()
	type entry struct {
		name string
		m    *inProcess
	}
	var es []entry
	for i, m := range t.members {
		if ip, ok := m.(*inProcess); ok {
			es = append(es, entry{t.nodes[i].Name, ip})
		}
	}
	n := t.cfg.Nodes
	t.mu.RUnlock()
	st := ui.Status{
		Title: fmt.Sprintf("agentnode testnet · %d nodes", n),
		Facts: []ui.Fact{
			{Label: "TEE", Value: "simulated (development only)"},
			{Label: "chain", Value: fmt.Sprintf("%s at %s", t.dev.Network, t.dev.RPCURL)},
			{Label: "token", Value: fmt.Sprintf("%s (%s v%s)", t.dev.Token, t.dev.TokenName, t.dev.TokenVersion)},
			{Label: "data", Value: t.cfg.DataDir},
		},
	}
	for _, e := range es {
		s := e.m.n.StatusNode()
		s.Name = e.name
		st.Nodes = append(st.Nodes, s)
	}
	return st, nil
}
