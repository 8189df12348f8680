// Package agentnettest is an in-memory agentnet.Network for tests of the agent-to-agent
// ABI and of agents that use it: a fixed set of fake agents that search matches by words
// and call answers by a function, paying each its price within the call's limit, and a
// record of every request; and two WAT guests of the ABI (Relay, Example), built by
// build.sh.
package agentnettest

//go:generate sh build.sh

import (
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/agentnet"
)

// Agent is a fake agent: its search entry and how it answers.
type Agent struct {
	agentnet.Agent
	// Answer computes the output and exit code for an input; nil echoes the input.
	Answer func(input []byte) ([]byte, uint32)
	// Err, when set, is what a call returns instead of an answer (after Delay).
	Err error
	// Delay is how long a call takes; it gives up when the call's context ends.
	Delay time.Duration
}

// Network is a fake network of Agents. It is safe for concurrent use.
type Network struct {
	Agents []Agent

	mu    sync.Mutex
	calls []agentnet.CallRequest
}

var _ agentnet.Network = (*Network)(nil)

// Search returns the agents whose name or description holds a word of query (case
// insensitive), scored by the number of such words, best first.
func (n *Network) Search(ctx context.Context, query string, limit int) ([]agentnet.Agent, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", agentnet.ErrTimeout, err)
	}
	var out []agentnet.Agent
	idx, scores := n.match(query)
	for _, i := range idx {
		a := n.Agents[i].Agent
		a.Score = scores[i]
		out = append(out, a)
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// match returns the indexes of the agents that match query, best first, and their
// scores.
func (n *Network) match(query string) ([]int, map[int]float64) {
	words := strings.Fields(strings.ToLower(query))
	var idx []int
	scores := map[int]float64{}
	for i, a := range n.Agents {
		text := strings.ToLower(a.Agent.Agent + " " + a.Description)
		for _, w := range words {
			if strings.Contains(text, w) {
				scores[i]++
			}
		}
		if scores[i] > 0 {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	return idx, scores
}

// Call answers req as the fake agent it names (or the best affordable match of its
// query): ErrNotFound for an unknown agent or no match, ErrDenied for a price over
// req.MaxPrice, ErrTimeout when ctx ends during Delay.
func (n *Network) Call(ctx context.Context, req agentnet.CallRequest) (agentnet.CallResult, error) {
	n.mu.Lock()
	n.calls = append(n.calls, req)
	n.mu.Unlock()
	a, err := n.target(req)
	if err != nil {
		return agentnet.CallResult{}, err
	}
	price, _ := strconv.ParseUint(a.Price, 10, 64)
	if price > req.MaxPrice {
		return agentnet.CallResult{}, fmt.Errorf("%w: %s/%s costs %d, over this call's limit %d", agentnet.ErrDenied, a.Peer, a.Agent.Agent, price, req.MaxPrice)
	}
	if a.Delay > 0 {
		t := time.NewTimer(a.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return agentnet.CallResult{}, fmt.Errorf("%w: %w", agentnet.ErrTimeout, ctx.Err())
		}
	}
	if a.Err != nil {
		return agentnet.CallResult{}, a.Err
	}
	out, code := req.Input, uint32(0)
	if a.Answer != nil {
		out, code = a.Answer(req.Input)
	}
	res := agentnet.CallResult{Peer: a.Peer, Agent: a.Agent.Agent, Output: out, ExitCode: code, Verified: true,
		Platform: a.Platform, Paid: price, Signature: []byte("fake signature")}
	res.Commitment = sha256.Sum256([]byte(a.Peer + "/" + a.Agent.Agent + "\x00" + string(req.Input) + "\x00" + string(out)))
	res.ModuleSHA256 = sha256.Sum256([]byte(a.Agent.Agent))
	if price > 0 {
		res.Transaction = fmt.Sprintf("0x%064x", len(n.Calls()))
	}
	return res, nil
}

func (n *Network) target(req agentnet.CallRequest) (*Agent, error) {
	if req.Query == "" {
		for i := range n.Agents {
			if a := &n.Agents[i]; a.Peer == req.Peer && a.Agent.Agent == req.Agent {
				return a, nil
			}
		}
		return nil, fmt.Errorf("%w: no agent %s on %s", agentnet.ErrNotFound, req.Agent, req.Peer)
	}
	idx, _ := n.match(req.Query)
	if len(idx) == 0 {
		return nil, fmt.Errorf("%w: no agent matches %q", agentnet.ErrNotFound, req.Query)
	}
	for _, i := range idx {
		if p, _ := strconv.ParseUint(n.Agents[i].Price, 10, 64); p <= req.MaxPrice {
			return &n.Agents[i], nil
		}
	}
	return nil, fmt.Errorf("%w: every match of %q costs more than %d", agentnet.ErrDenied, req.Query, req.MaxPrice)
}

// Calls returns the requests received so far.
func (n *Network) Calls() []agentnet.CallRequest {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.calls)
}

// Relay is testdata/relay.wat: a free agent that calls the agent its stdin names
// ("peer/name") with the same stdin as input and max_price 0, prints "relay > " and the
// callee's output and exits with the callee's exit code; when the call fails it prints
// "relay: error -N: <message>" and exits with N. Deployed under its own peer/name it calls
// itself until the depth limit stops it.
//
//go:embed testdata/relay.wasm
var Relay []byte

// Example is testdata/example.wat, the WAT example of docs/abi.md: it searches "arxiv
// papers" (3 results) and prints "found: <json>", calls the best match for "arxiv papers
// about attention" with input "attention" and max_price 10000, prints "answer: <output>"
// and "receipt: <json>", and exits with the callee's exit code (N when a step fails
// with -N).
//
//go:embed testdata/example.wasm
var Example []byte
