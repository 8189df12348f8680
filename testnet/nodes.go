package testnet

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/agentnet/agentnode/agents"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/node/client"
)

// startWorkers bounds the nodes starting at once after the two bootstrap
// peers: a start is mostly CPU (keys, executor, database, host), and two
// cores gain nothing from more.
const startWorkers = 4

// readyPoll is how often a wait looks again (routing tables of node
// processes, search results).
const readyPoll = 100 * time.Millisecond

// member is one node of the testnet, in this process or its own.
type member interface {
	// describe returns what the node is: peer id, bridge URL, p2p
	// addresses, and its process id (0 in this process).
	describe() (peerID, bridgeURL string, addrs []string, pid int)
	// waitReady waits until the node's routing table holds minPeers.
	waitReady(ctx context.Context, minPeers int) error
	// deploy deploys a demo agent on the node.
	deploy(ctx context.Context, a agents.Agent) error
	// advertised waits until the node has published its cards and
	// provided their terms, where it can tell (in this process).
	advertised(ctx context.Context) error
	// rss is the resident memory of the node's own process, 0 when it
	// shares this one.
	rss() int64
	// close stops the node.
	close() error
}

// nodeSpec is what a node is started with.
type nodeSpec struct {
	index     int
	name      string
	keys      nodeKeys
	listen    string // bridge listen address
	bootstrap []string
}

// startNodes starts node 0, then node 1 bootstrapping from it, then the
// rest, a few at a time, bootstrapping from both.
func (t *Testnet) startNodes(ctx context.Context, keys []nodeKeys) error {
	n := t.cfg.Nodes
	t.mu.Lock()
	t.members = make([]member, n)
	t.nodes = make([]NodeInfo, n)
	t.mu.Unlock()
	t.clients = make([]*client.Client, n)
	start := func(i int, boot []string) error {
		spec := nodeSpec{index: i, name: NodeName(i, n), keys: keys[i], listen: "127.0.0.1:0", bootstrap: boot}
		if t.cfg.BasePort > 0 {
			spec.listen = fmt.Sprintf("127.0.0.1:%d", t.cfg.BasePort+i)
		}
		var m member
		var err error
		if t.cfg.Processes {
			m, err = t.startProcess(ctx, spec)
		} else {
			m, err = t.startInProcess(ctx, spec)
		}
		if err != nil {
			return fmt.Errorf("start %s: %w", spec.name, err)
		}
		peerID, url, addrs, pid := m.describe()
		t.mu.Lock()
		defer t.mu.Unlock()
		t.members[i] = m
		t.nodes[i] = NodeInfo{Index: i, Name: spec.name, PeerID: peerID, BridgeURL: url, P2PAddrs: addrs, DataDir: spec.keys.dir,
			PayTo: address(spec.keys.gas).Hex(), Payer: address(spec.keys.payer).Hex(), Agents: []string{}, PID: pid}
		c, err := client.New(client.Config{NodeURL: url, PeerID: peerID, Verifiers: verifiers(), Policy: attest.DevPolicy()})
		if err != nil {
			return err
		}
		t.clients[i] = c
		return nil
	}
	if err := start(0, nil); err != nil {
		return err
	}
	t.dev.BridgeURL = t.nodes[0].BridgeURL
	if err := t.writeDevJSON(); err != nil {
		return err
	}
	boot := t.nodes[0].P2PAddrs
	if n > 1 {
		if err := start(1, boot); err != nil {
			return err
		}
		boot = append(boot, t.nodes[1].P2PAddrs...)
	}
	return parallel(ctx, n-2, startWorkers, func(k int) error { return start(k+2, boot) })
}

// waitRoutingTables waits until every routing table holds min(n-1, 15)
// peers, all nodes at once: each wait refreshes its table, and parallel
// refreshes fill the tables several times faster than one after another.
func (t *Testnet) waitRoutingTables(ctx context.Context) error {
	target := min(t.cfg.Nodes-1, routingTarget)
	if target == 0 {
		return nil
	}
	return parallel(ctx, len(t.members), len(t.members), func(i int) error {
		if err := t.members[i].waitReady(ctx, target); err != nil {
			return fmt.Errorf("%s: %w", t.nodes[i].Name, err)
		}
		return nil
	})
}

// parallel runs fn(0..n-1) on at most workers goroutines and returns the
// first error; after one, the calls not yet started are skipped.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	if n <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	work := make(chan int)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range work {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}
