// Command research is a demo agent that calls another agent through the agentnet host
// functions (docs/abi.md): it finds the agent that answers queries about arXiv papers
// (the arxiv demo agent, wherever it runs) by description, pays it from its budget, and
// returns that agent's answer combined with its own work: a header naming who answered
// and what it cost, a summary line, and the notary digest of the combined text.
//
// It is a WASI preview 1 command for the agentnode executor. The query is the arguments
// joined by spaces, or stdin when there are none:
//
//	agent [--target peer/name] [--max-price N] [--] query words...
//
// --target calls the given agent instead of the best match; --max-price caps the payment
// (default: what is left of the run's budget). The answer:
//
//	research: "attention" answered by arxiv on 12D3KooW...: paid 10000, exit 0, verified, commitment 5f0c...
//	<the callee's output>
//	summary: 21 lines, 180 words from arxiv; top result: 1. Attention Is All You Need (2017)
//	notary digest: 8d1e... (SHA-256("agentnet/notary/v1" || LP(the lines above)))
//
// The digest is the notary agent's, computed here over everything above it, so anyone
// holding the answer can recompute it. A bad request exits with status 2. When the call
// fails the answer is one line, "research: call failed: agentnet: <name> (<code>):
// <message>", and the exit status is 10 + |code|: 12 not found, 13 denied (price over
// the budget, or the node's payer policy said no), 14 depth limit, 15 remote error,
// 16 timeout, 18 unavailable. When the callee answered with a non-zero exit status the
// answer is still combined and the status is 4.
package main

import (
	"os"
	"time"

	"github.com/agentnet/agentnode/agents/agentnet"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, hostNet{})) }

// hostNet is the network of a real run: the agentnet host functions.
type hostNet struct{}

func (hostNet) CallBest(query string, input []byte, maxPrice uint64) (*agentnet.Result, error) {
	return agentnet.CallBest(query, input, maxPrice, time.Duration(0))
}

func (hostNet) Call(target string, input []byte, maxPrice uint64) (*agentnet.Result, error) {
	return agentnet.Call(target, input, maxPrice, time.Duration(0))
}

func (hostNet) Budget() (uint64, error) { return agentnet.Budget() }
