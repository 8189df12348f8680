package testnet

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/agentnet/agentnode/node/api"
)

// deployWorkers bounds the deployments in flight once every agent is
// compiled (and in the shared cache).
const deployWorkers = 8

// Assign returns, for each of agents agents, the indexes of the nodes of
// a testnet of nodes nodes that run it, replicas copies of each where
// there are nodes enough. The copies are dealt out in turn (node 0 takes
// the last agent, the next node the first, and so on) over slots spread
// evenly across the nodes, so that with two nodes or more the first agent
// never runs on node 0, which the scenario calls it from. With fewer
// nodes than agents, a node runs several. replicas below 1 count as 1.
func Assign(nodes, agents, replicas int) [][]int {
	out := make([][]int, agents)
	if nodes <= 0 || agents <= 0 {
		return out
	}
	if nodes < agents {
		for j := range agents {
			out[j] = []int{(j + 1) % nodes}
		}
		return out
	}
	slots := min(nodes, agents*max(1, replicas))
	for s := range slots {
		j := (s + agents - 1) % agents
		out[j] = append(out[j], s*nodes/slots)
	}
	return out
}

// deployAgents deploys every agent on its nodes: first once per agent (so
// that each is compiled once, into the shared cache), then everywhere
// else. It returns once every node has advertised its cards (in this
// process) and a search from node 0 finds every copy.
func (t *Testnet) deployAgents(ctx context.Context) error {
	as := t.cfg.Agents
	hosts := Assign(t.cfg.Nodes, len(as), t.cfg.Replicas)
	type job struct{ agent, node int }
	var first, rest []job
	for j, hs := range hosts {
		for k, i := range hs {
			if k == 0 {
				first = append(first, job{j, i})
			} else {
				rest = append(rest, job{j, i})
			}
		}
	}
	deploy := func(jb job) error {
		a := as[jb.agent]
		if err := t.members[jb.node].deploy(ctx, a); err != nil {
			return fmt.Errorf("deploy %s on %s: %w", a.Name, t.nodes[jb.node].Name, err)
		}
		return nil
	}
	if err := parallel(ctx, len(first), len(first), func(k int) error { return deploy(first[k]) }); err != nil {
		return err
	}
	if err := parallel(ctx, len(rest), deployWorkers, func(k int) error { return deploy(rest[k]) }); err != nil {
		return err
	}
	if err := parallel(ctx, len(t.members), len(t.members), func(i int) error { return t.members[i].advertised(ctx) }); err != nil {
		return err
	}
	t.mu.Lock()
	for j, hs := range hosts {
		for _, i := range hs {
			t.nodes[i].Agents = append(t.nodes[i].Agents, as[j].Name)
		}
	}
	t.mu.Unlock()
	return parallel(ctx, len(as), len(as), func(j int) error { return t.waitFound(ctx, as[j].Name, hosts[j]) })
}

// waitFound searches from node 0 for an agent by its name until every node
// that runs it is among the results: its card is published and the terms
// of its name are provided.
func (t *Testnet) waitFound(ctx context.Context, name string, hosts []int) error {
	want := make([]string, len(hosts))
	for k, i := range hosts {
		want[k] = t.nodes[i].PeerID
	}
	var missing []string
	var lastErr error
	for {
		resp, err := t.clients[0].Search(ctx, api.SearchRequest{Description: name, Limit: min(len(hosts)+10, 50)})
		if err == nil {
			missing = missing[:0]
			for k, p := range want {
				if !slices.ContainsFunc(resp.Agents, func(a api.FoundAgent) bool { return a.PeerID == p && a.Name == name }) {
					missing = append(missing, t.nodes[hosts[k]].Name)
				}
			}
			if len(missing) == 0 {
				return nil
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait until a search finds agent %s on every node that runs it (missing on %v, last error %v): %w", name, missing, lastErr, ctx.Err())
		case <-time.After(readyPoll):
		}
	}
}
