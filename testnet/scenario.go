package testnet

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
)

// DefaultQuery is what the scenario searches for.
const DefaultQuery = "arxiv papers about attention"

// Defaults of the scenario's measured rounds.
const (
	DefaultSearches = 40
	DefaultCalls    = 40
)

// ScenarioConfig configures RunScenario.
type ScenarioConfig struct {
	// Query is what node 0 searches for and sends the agent it finds.
	// Default DefaultQuery.
	Query string
	// Searches and Calls are the measured rounds after the story: searches
	// from random nodes for each agent, and paid calls of the agent found
	// from random nodes to random other nodes that run it. Default
	// DefaultSearches and DefaultCalls; negative skips them.
	Searches, Calls int
	// Seed makes the random choices of the rounds repeatable.
	Seed uint64
	// Out is told each step as it ends. Nil: silent.
	Out io.Writer
}

// Step is one step of the scenario.
type Step struct {
	Name   string
	Took   time.Duration
	Detail string
}

// Latency summarises measured durations (nearest-rank percentiles).
type Latency struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

func (l Latency) String() string {
	if l.N == 0 {
		return "not measured"
	}
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s (n=%d)", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), l.N)
}

// ScenarioResult is what the scenario did and measured.
type ScenarioResult struct {
	Steps []Step
	// Found is the agent the search chose: the best match on another node.
	Found api.FoundAgent
	// Receipt is the paid call's receipt, Settlement its payment on chain.
	Receipt    *client.Receipt
	Settlement *client.Settlement
	// Search and Call are the measured rounds.
	Search, Call Latency
}

// RunScenario plays the end-to-end story from node 0: it searches the
// network, calls the best match that runs on another node and pays for it
// with its own payer (through its bridge, over libp2p to the other node),
// verifies the receipt (session evidence and its binding, commitment,
// signature) and finds its payment settled on chain; then it measures
// searches and paid calls from random nodes. Each step is printed to
// Out as it ends; the first failure stops it.
func (t *Testnet) RunScenario(ctx context.Context, sc ScenarioConfig) (*ScenarioResult, error) {
	if sc.Query == "" {
		sc.Query = DefaultQuery
	}
	if sc.Searches == 0 {
		sc.Searches = DefaultSearches
	}
	if sc.Calls == 0 {
		sc.Calls = DefaultCalls
	}
	if len(t.nodes) < 2 {
		return nil, fmt.Errorf("the scenario calls an agent on another node: start at least 2 nodes: %w", ErrScenario)
	}
	r := &scenarioRun{t: t, sc: sc, ec: t.chain.Client(), res: &ScenarioResult{}}
	say := func(format string, a ...any) {
		if sc.Out != nil {
			fmt.Fprintf(sc.Out, format+"\n", a...)
		}
	}
	say("scenario: %s searches for %q, pays another node to run the best match, and verifies the receipt down to the chain",
		t.nodes[0].Name, sc.Query)
	steps := []struct {
		name string
		run  func(context.Context) (string, error)
	}{
		{"search", r.search},
		{"paid call", r.call},
		{"verify receipt", r.verify},
		{"settlement", r.settlement},
	}
	for k, s := range steps {
		start := time.Now()
		detail, err := s.run(ctx)
		took := time.Since(start)
		if err != nil {
			say("  %d. %-15s %9s  FAILED: %v", k+1, s.name, ms(took), err)
			return r.res, fmt.Errorf("step %d (%s): %w", k+1, s.name, err)
		}
		r.res.Steps = append(r.res.Steps, Step{Name: s.name, Took: took, Detail: detail})
		say("  %d. %-15s %9s  %s", k+1, s.name, ms(took), detail)
	}
	var err error
	if sc.Searches > 0 {
		if r.res.Search, err = r.measureSearches(ctx, sc.Searches); err != nil {
			say("  searches FAILED: %v", err)
			return r.res, fmt.Errorf("measure searches: %w", err)
		}
		say("  %d searches from random nodes, each finding its agent: %s", sc.Searches, r.res.Search)
	}
	if sc.Calls > 0 {
		if r.res.Call, err = r.measureCalls(ctx, sc.Calls); err != nil {
			say("  paid calls FAILED: %v", err)
			return r.res, fmt.Errorf("measure paid calls: %w", err)
		}
		say("  %d paid calls of %s from random nodes to other nodes, each receipt verified and settled on chain: %s",
			sc.Calls, r.res.Found.Name, r.res.Call)
	}
	say("scenario passed")
	return r.res, nil
}

// scenarioRun carries the scenario's state from step to step.
type scenarioRun struct {
	t   *Testnet
	sc  ScenarioConfig
	ec  *ethclient.Client
	res *ScenarioResult
}

func (r *scenarioRun) search(ctx context.Context) (string, error) {
	t := r.t
	resp, err := t.clients[0].Search(ctx, api.SearchRequest{Description: r.sc.Query})
	if err != nil {
		return "", err
	}
	self := t.nodes[0].PeerID
	i := slices.IndexFunc(resp.Agents, func(a api.FoundAgent) bool { return a.PeerID != self && t.nodeOf(a.PeerID) >= 0 })
	if i < 0 {
		return "", fmt.Errorf("%d agents found, none on another node of the testnet: %w", len(resp.Agents), ErrScenario)
	}
	r.res.Found = resp.Agents[i]
	f := r.res.Found
	if f.Platform != string(attest.PlatformSim) {
		return "", fmt.Errorf("agent %s's card claims platform %q, not the testnet's sim: %w", f.Name, f.Platform, ErrScenario)
	}
	return fmt.Sprintf("%d agents found; best match on another node: %s on %s (score %.2f, price %s)",
		len(resp.Agents), f.Name, t.nodes[t.nodeOf(f.PeerID)].Name, f.Score, f.Price), nil
}

func (r *scenarioRun) call(ctx context.Context) (string, error) {
	t, f := r.t, r.res.Found
	rc, err := t.clients[0].CallAgent(ctx, f.PeerID, f.Name, api.CallRequest{Args: []string{r.sc.Query}})
	if err != nil {
		return "", err
	}
	r.res.Receipt = rc
	target := t.nodes[t.nodeOf(f.PeerID)]
	if err := checkCall(rc, f, t.nodes[0].Payer); err != nil {
		return "", err
	}
	out := firstLine(rc.Output, 100)
	return fmt.Sprintf("%s -> %s on %s: exit %d, %d bytes of output, %s units paid (tx %s)\n%21s%q",
		t.nodes[0].Name, f.Name, target.Name, rc.ExitCode, len(rc.OutputBase64), rc.Payment.Amount, short(rc.Payment.Transaction), "", out), nil
}

// checkCall checks what the caller's node said about a paid call: the
// agent and node asked for, verified, exit 0, and paid by the caller's
// payer at the card's price with a transaction.
func checkCall(rc *client.Receipt, f api.FoundAgent, payer string) error {
	switch {
	case rc.PeerID != f.PeerID || rc.Agent != f.Name:
		return fmt.Errorf("receipt of %s/%s, asked for %s/%s: %w", rc.PeerID, rc.Agent, f.PeerID, f.Name, ErrScenario)
	case !rc.Verified:
		return fmt.Errorf("the caller's node did not verify the result: %w", ErrScenario)
	case rc.ModuleSHA256 != f.ModuleSHA256:
		return fmt.Errorf("result of module %s, the card advertises %s: %w", rc.ModuleSHA256, f.ModuleSHA256, ErrScenario)
	case rc.ExitCode != 0:
		return fmt.Errorf("agent exited with status %d: %s: %w", rc.ExitCode, firstLine(rc.Stderr, 200), ErrScenario)
	case rc.Payment == nil || rc.Payment.Transaction == "":
		return fmt.Errorf("no settled payment in the receipt of an agent priced %s: %w", f.Price, ErrScenario)
	case !strings.EqualFold(rc.Payment.Payer, payer):
		return fmt.Errorf("paid by %s, not the caller's payer %s: %w", rc.Payment.Payer, payer, ErrScenario)
	case rc.Payment.Amount != f.Price:
		return fmt.Errorf("paid %s, the card's price is %s: %w", rc.Payment.Amount, f.Price, ErrScenario)
	}
	return nil
}

func (r *scenarioRun) verify(ctx context.Context) (string, error) {
	rc := r.res.Receipt
	claims, err := client.VerifyReceipt(ctx, rc, verifiers(), attest.DevPolicy())
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrScenario, err)
	}
	if claims.Platform != attest.PlatformSim {
		return "", fmt.Errorf("session evidence of platform %q: %w", claims.Platform, ErrScenario)
	}
	return fmt.Sprintf("session evidence (%s) bound to the identity, session and client keys and the nonce; commitment %s opened with the salt (payment bound); Ed25519 signature of %s",
		claims.Platform, short(rc.Commitment), short(rc.PeerID)), nil
}

func (r *scenarioRun) settlement(ctx context.Context) (string, error) {
	t, rc := r.t, r.res.Receipt
	target := t.nodes[t.nodeOf(r.res.Found.PeerID)]
	s, err := checkSettled(ctx, r.ec, rc, t.nodes[0].Payer, target.PayTo)
	if err != nil {
		return "", err
	}
	r.res.Settlement = s
	return fmt.Sprintf("tx %s in block %d: AuthorizationUsed and Transfer of %s from %s's payer to %s's pay_to",
		short(s.Transaction.Hex()), s.Block, s.Amount, t.nodes[0].Name, target.Name), nil
}

// checkSettled checks a receipt's payment on chain and that it went from
// payer to payTo.
func checkSettled(ctx context.Context, ec *ethclient.Client, rc *client.Receipt, payer, payTo string) (*client.Settlement, error) {
	s, err := client.CheckSettlement(ctx, ec, rc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScenario, err)
	}
	if s.Payer != common.HexToAddress(payer) || s.PayTo != common.HexToAddress(payTo) {
		return nil, fmt.Errorf("settled from %s to %s, want %s to %s: %w", s.Payer, s.PayTo, payer, payTo, ErrScenario)
	}
	return s, nil
}

// measureSearches searches from random nodes, for each agent in turn by
// its name and first other tag, and requires the agent among the results.
func (r *scenarioRun) measureSearches(ctx context.Context, n int) (Latency, error) {
	t := r.t
	rng := rand.New(rand.NewPCG(r.sc.Seed, 1))
	queries := make([]string, len(t.cfg.Agents))
	for j, a := range t.cfg.Agents {
		queries[j] = a.Name
		if m, err := agentstore.ParseManifest(a.Manifest); err == nil {
			if k := slices.IndexFunc(m.Tags, func(tag string) bool { return tag != a.Name }); k >= 0 {
				queries[j] += " " + m.Tags[k]
			}
		}
	}
	ds := make([]time.Duration, 0, n)
	for k := range n {
		j, from := k%len(queries), rng.IntN(len(t.nodes))
		start := time.Now()
		resp, err := t.clients[from].Search(ctx, api.SearchRequest{Description: queries[j]})
		d := time.Since(start)
		if err != nil {
			return Latency{}, fmt.Errorf("search %q from %s: %w", queries[j], t.nodes[from].Name, err)
		}
		name := t.cfg.Agents[j].Name
		if !slices.ContainsFunc(resp.Agents, func(a api.FoundAgent) bool { return a.Name == name }) {
			return Latency{}, fmt.Errorf("search %q from %s did not find agent %s: %w", queries[j], t.nodes[from].Name, name, ErrScenario)
		}
		ds = append(ds, d)
	}
	return summarize(ds), nil
}

// measureCalls makes paid calls of the scenario's agent from random nodes
// to random other nodes that run it; each receipt is verified and its
// settlement checked on chain, outside the measured time.
func (r *scenarioRun) measureCalls(ctx context.Context, n int) (Latency, error) {
	t, f := r.t, r.res.Found
	rng := rand.New(rand.NewPCG(r.sc.Seed, 2))
	var hosts []int
	for i, ni := range t.nodes {
		if slices.Contains(ni.Agents, f.Name) {
			hosts = append(hosts, i)
		}
	}
	ds := make([]time.Duration, 0, n)
	for range n {
		from := rng.IntN(len(t.nodes))
		to := hosts[rng.IntN(len(hosts))]
		if to == from {
			if len(hosts) == 1 {
				from = (from + 1) % len(t.nodes)
			} else {
				to = hosts[(slices.Index(hosts, to)+1)%len(hosts)]
			}
		}
		target := f
		target.PeerID = t.nodes[to].PeerID
		start := time.Now()
		rc, err := t.clients[from].CallAgent(ctx, target.PeerID, f.Name, api.CallRequest{Args: []string{r.sc.Query}})
		d := time.Since(start)
		if err != nil {
			return Latency{}, fmt.Errorf("call %s on %s from %s: %w", f.Name, t.nodes[to].Name, t.nodes[from].Name, err)
		}
		if err := checkCall(rc, target, t.nodes[from].Payer); err != nil {
			return Latency{}, fmt.Errorf("call %s on %s from %s: %w", f.Name, t.nodes[to].Name, t.nodes[from].Name, err)
		}
		if _, err := client.VerifyReceipt(ctx, rc, verifiers(), attest.DevPolicy()); err != nil {
			return Latency{}, fmt.Errorf("receipt of %s on %s: %w: %w", f.Name, t.nodes[to].Name, ErrScenario, err)
		}
		if _, err := checkSettled(ctx, r.ec, rc, t.nodes[from].Payer, t.nodes[to].PayTo); err != nil {
			return Latency{}, fmt.Errorf("payment of %s on %s: %w", f.Name, t.nodes[to].Name, err)
		}
		ds = append(ds, d)
	}
	return summarize(ds), nil
}

// nodeOf returns the index of the node with peer id p, -1 if none.
func (t *Testnet) nodeOf(p string) int {
	return slices.IndexFunc(t.nodes, func(n NodeInfo) bool { return n.PeerID == p })
}

// summarize returns nearest-rank percentiles of ds.
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Latency{N: len(s), P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: s[len(s)-1]}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// short abbreviates a hash or id for a line of output.
func short(s string) string {
	if len(s) <= 18 {
		return s
	}
	return s[:10] + "…" + s[len(s)-6:]
}

// firstLine returns the first non-empty line of s, at most n runes.
func firstLine(s string, n int) string {
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			if r := []rune(line); len(r) > n {
				return string(r[:n-1]) + "…"
			}
			return line
		}
	}
	return ""
}
