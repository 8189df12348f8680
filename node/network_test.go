package node_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/p2p/card"
)

// TestTenNodesFindAndCallEveryAgent is the network's main promise: ten
// nodes on loopback TCP, two agents each; from every node, a search for
// every agent's description finds it (recall 100 %), its card verifies on
// the caller's side, and a remote call through the bridge's
// /v1/agents/{peer}/{name}/call returns the agent's output with a receipt
// that verifies offline.
func TestTenNodesFindAndCallEveryAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ten nodes")
	}
	const n = 10
	nw := nettest.Start(t, n, nettest.Options{Agents: agentsOf})
	type target struct {
		peer  string
		agent nettest.Agent
	}
	var targets []target
	for i, nd := range nw.Nodes {
		for _, a := range agentsOf(i) {
			targets = append(targets, target{nd.PeerID(), a})
		}
	}

	// Cards are published in the background: wait until node 0 sees all
	// of them, then demand that every node finds every agent.
	c0 := nettest.Client(t, nw.Nodes[0])
	if err := nettest.Eventually(60*time.Second, 200*time.Millisecond, func() error {
		for _, tg := range targets {
			if find(search(t, c0, tg.agent.Description, false), tg.peer, tg.agent.Name) == nil {
				return fmt.Errorf("%s/%s not found yet", tg.peer, tg.agent.Name)
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("network did not converge: %v", err)
	}

	start := time.Now()
	var (
		mu          sync.Mutex
		found, miss int
		wg          sync.WaitGroup
	)
	for i, nd := range nw.Nodes {
		c := nettest.Client(t, nd)
		wg.Go(func() {
			for j, tg := range targets {
				f := find(search(t, c, tg.agent.Description, true), tg.peer, tg.agent.Name)
				mu.Lock()
				if f == nil {
					miss++
					t.Errorf("node %d: search for %q does not find %s/%s", i, tg.agent.Description, tg.peer, tg.agent.Name)
				} else {
					found++
				}
				mu.Unlock()
				if f == nil {
					continue
				}
				checkFound(t, f, tg.peer, tg.agent)
				checkCall(t, c, tg.peer, tg.agent, fmt.Sprintf("from-%d", i), fmt.Sprint(j))
			}
		})
	}
	wg.Wait()
	t.Logf("recall %d/%d (%.0f %%); %d searches and %d verified remote calls in %s",
		found, found+miss, 100*float64(found)/float64(found+miss), n*len(targets), found, time.Since(start).Round(time.Millisecond))
}

// TestDepartedNodeExpiresAndRestartRepublishes checks record lifetimes: a
// node that goes down disappears from search once its cards expire, and
// the same node restarted (same identity, same agents) republishes them
// with a higher seq.
func TestDepartedNodeExpiresAndRestartRepublishes(t *testing.T) {
	const n = 4
	nw := nettest.Start(t, n, nettest.Options{Agents: agentsOf, TTL: shortTTL()})
	c := nettest.Client(t, nw.Nodes[0])
	leaver := nw.Nodes[n-1]
	peer := leaver.PeerID()
	a := agentsOf(n - 1)[0]
	seqOf := func() (uint64, error) {
		f := find(search(t, c, a.Description, true), peer, a.Name)
		if f == nil {
			return 0, errors.New("not found")
		}
		checkFound(t, f, peer, a)
		raw, _ := hexDecode(f.Card)
		s, err := card.Open(raw)
		if err != nil {
			return 0, err
		}
		return s.Seq, nil
	}
	if err := nettest.Eventually(30*time.Second, 100*time.Millisecond, func() error {
		_, err := seqOf()
		return err
	}); err != nil {
		t.Fatalf("agent of node %d never found: %v", n-1, err)
	}
	if err := leaver.Close(); err != nil {
		t.Fatal(err)
	}
	// The last seq the node signed for the agent, from the node itself.
	var before uint64
	for _, ag := range leaver.Agents() {
		if ag.Name == a.Name && ag.Card != nil {
			before = ag.Card.Seq
		}
	}
	if before == 0 {
		t.Fatal("the node lists no card for its agent")
	}
	down := time.Now()
	if err := nettest.Eventually(30*time.Second, 200*time.Millisecond, func() error {
		if find(search(t, c, a.Description, false), peer, a.Name) != nil {
			return errors.New("still found")
		}
		return nil
	}); err != nil {
		t.Fatalf("departed node's agent: %v", err)
	}
	gone := time.Since(down)
	if life := shortTTL().CardLifetime; gone > 3*life+10*time.Second {
		t.Errorf("gone after %s, card lifetime %s", gone, life)
	}

	restarted := nw.Restart(t, n-1)
	if restarted.PeerID() != peer {
		t.Fatalf("restart changed identity: %s -> %s", peer, restarted.PeerID())
	}
	var after uint64
	if err := nettest.Eventually(30*time.Second, 100*time.Millisecond, func() (err error) {
		if after, err = seqOf(); err == nil && after <= before {
			err = fmt.Errorf("found with seq %d, not above %d", after, before)
		}
		return err
	}); err != nil {
		t.Fatalf("restarted node's agent: %v", err)
	}
	checkCall(t, c, peer, a, "back")
	t.Logf("gone from search %s after the node stopped; seq %d -> %d after restart", gone.Round(time.Millisecond), before, after)
}

// TestDeployAndWithdrawReachTheNetwork deploys an agent on one node and
// finds it from another, then withdraws it and sees it go.
func TestDeployAndWithdrawReachTheNetwork(t *testing.T) {
	nw := nettest.Start(t, 3, nettest.Options{TTL: shortTTL()})
	owner, other := nettest.Client(t, nw.Nodes[2]), nettest.Client(t, nw.Nodes[0])
	a := nettest.Agent{Name: "haiku", Description: "composes haiku about mountain rivers", Banner: "haiku"}
	ctx := context.Background()
	resp, err := owner.Upload(ctx, a.Manifest(t), a.Module(t))
	if err != nil || resp.Message != "Agent 'haiku' deployed successfully" || resp.Agent.Status != api.AgentDeployed {
		t.Fatalf("upload: %+v %v", resp, err)
	}
	if resp, err = owner.Upload(ctx, a.Manifest(t), a.Module(t)); err != nil || resp.Message != "Agent 'haiku' already deployed" {
		t.Fatalf("second upload: %+v %v", resp, err)
	}
	peer := nw.Nodes[2].PeerID()
	if err := nettest.Eventually(30*time.Second, 100*time.Millisecond, func() error {
		if find(search(t, other, "haiku mountain", false), peer, a.Name) == nil {
			return errors.New("not found")
		}
		return nil
	}); err != nil {
		t.Fatalf("deployed agent: %v", err)
	}
	checkCall(t, other, peer, a, "snow")
	list, err := owner.Agents(ctx)
	if err != nil || len(list) != 1 || list[0].Card == nil || list[0].Card.Seq == 0 {
		t.Fatalf("agents %+v %v", list, err)
	}

	if resp, err = owner.Withdraw(ctx, "haiku"); err != nil || resp.Agent.Status != api.AgentWithdrawn {
		t.Fatalf("withdraw: %+v %v", resp, err)
	}
	if err := nettest.Eventually(30*time.Second, 200*time.Millisecond, func() error {
		if find(search(t, other, "haiku mountain", false), peer, a.Name) != nil {
			return errors.New("still found")
		}
		return nil
	}); err != nil {
		t.Fatalf("withdrawn agent: %v", err)
	}
	if resp, err = owner.Deploy(ctx, "haiku"); err != nil || resp.Agent.Status != api.AgentDeployed {
		t.Fatalf("redeploy by name: %+v %v", resp, err)
	}
	if err := nettest.Eventually(30*time.Second, 100*time.Millisecond, func() error {
		if find(search(t, other, "haiku mountain", false), peer, a.Name) == nil {
			return errors.New("not found")
		}
		return nil
	}); err != nil {
		t.Fatalf("redeployed agent: %v", err)
	}
}
