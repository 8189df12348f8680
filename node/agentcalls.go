package node

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/agentnet/agentnode/enclave/wasm/agentnet"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/bridge"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/p2p/card"
	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/policy"
)

// Agent-to-agent calls: the node's side of the agentnet host functions.

// DepthHeader carries an agent-to-agent call's depth to the callee's node: the callee
// runs at that depth, and its own calls nest one deeper. A request without it (a user's)
// runs at depth 0. It bounds accidental recursion between cooperating agents; a peer
// can send any value, so it is no defence against a hostile caller, which the callee's
// price and the caller's budget and payer policy are.
const DepthHeader = "Agentnet-Call-Depth"

// maxDepthHeader bounds the depth a request may carry; past agent_call_depth the agent
// runs but cannot call, past this the request is malformed.
const maxDepthHeader = 1000

// bestMatchCandidates is how many search results a call by description considers.
const bestMatchCandidates = 10

// agentCalls is the node as the host module's Network, and as the bridge's AgentRuns.
type agentCalls struct{ n *Node }

var (
	_ agentnet.Network = agentCalls{}
	_ bridge.AgentRuns = agentCalls{}
)

// newAgentNet returns the agentnet host module over the node.
func (n *Node) newAgentNet() (*agentnet.Module, error) {
	return agentnet.New(agentnet.Config{
		Network:        agentCalls{n},
		MaxDepth:       n.cfg.AgentCallDepth,
		MaxCallsPerRun: n.cfg.AgentCallsPerRun,
		MaxInputBytes:  n.cfg.WasmMaxOutputBytes, // what an agent could have received from a call
		Logger:         n.log.With("component", "agentnet"),
	})
}

// Begin scopes a run of a deployed agent: its name, the depth the request carries, and
// its budget (the manifest's, else agent_budget).
func (a agentCalls) Begin(ctx context.Context, call bridge.Call, agent string) (context.Context, func(), error) {
	depth := 0
	if v := call.Header.Get(DepthHeader); v != "" {
		d, err := strconv.Atoi(v)
		if err != nil || d < 0 || d > maxDepthHeader || strconv.Itoa(d) != v {
			return nil, nil, &bridge.Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest,
				Message: fmt.Sprintf("header %s %q: want a decimal call depth from 0 to %d", DepthHeader, v, maxDepthHeader)}
		}
		depth = d
	}
	run := agentnet.NewRun(agentnet.RunConfig{Caller: agent, Depth: depth, Budget: a.n.agentBudget(agent)})
	return agentnet.WithRun(ctx, run), run.Close, nil
}

// agentBudget is what one run of agent may pay its callees.
func (n *Node) agentBudget(agent string) uint64 {
	if n.agents != nil {
		if a, ok := n.agents.Get(agent); ok && a.Budget > 0 {
			return a.Budget
		}
	}
	return n.cfg.AgentBudget
}

// Search finds agents for a guest, through the node's verified search.
func (a agentCalls) Search(ctx context.Context, query string, limit int) ([]agentnet.Agent, error) {
	found, err := a.n.Search(ctx, api.SearchRequest{Description: query, Limit: limit})
	if err != nil {
		return nil, agentError(ctx, err)
	}
	out := make([]agentnet.Agent, len(found))
	for i, f := range found {
		out[i] = agentnet.Agent{Peer: f.PeerID, Agent: f.Name, Description: f.Description, Price: f.Price, Platform: f.Platform, Score: f.Score}
	}
	return out, nil
}

// Call runs a guest's call: by peer/name, or the best affordable match of a search. The
// payment, if any, is the node payer's, capped at req.MaxPrice, with the calling agent as
// its origin for the payer policy; the request carries the callee's depth.
func (a agentCalls) Call(ctx context.Context, req agentnet.CallRequest) (agentnet.CallResult, error) {
	nw := a.n.net
	if nw == nil {
		return agentnet.CallResult{}, fmt.Errorf("%w: this node runs without the p2p network", agentnet.ErrUnavailable)
	}
	peerID, name := req.Peer, req.Agent
	if req.Query != "" {
		var err error
		if peerID, name, err = a.bestMatch(ctx, req.Query, req.Caller, req.MaxPrice); err != nil {
			return agentnet.CallResult{}, err
		}
	}
	p, err := peer.Decode(peerID)
	if err != nil {
		return agentnet.CallResult{}, fmt.Errorf("%w: peer %q is not a peer id", agentnet.ErrBadArgument, peerID)
	}
	if err := card.CheckName(name); err != nil {
		return agentnet.CallResult{}, fmt.Errorf("%w: %v", agentnet.ErrBadArgument, err)
	}
	limit := new(big.Int).SetUint64(req.MaxPrice)
	in := client.ExecInput{Agent: name, Stdin: req.Input, MaxPrice: limit,
		Origin: &policy.Origin{Kind: policy.OriginAgent, Agent: req.Caller},
		Header: http.Header{DepthHeader: {strconv.Itoa(req.Depth)}}}
	start := time.Now()
	res, v, err := nw.call(ctx, p, &in)
	a.n.recordCall(p, name, req.Caller, start, res, err)
	out := agentnet.CallResult{Peer: peerID, Agent: name}
	if err != nil {
		out.Paid = paidOnFailure(err, v, req.MaxPrice)
		return out, agentError(ctx, err)
	}
	out.Output, out.ExitCode = res.Output, res.ExitCode
	out.Commitment, out.Signature, out.ModuleSHA256 = res.Commitment, res.Signature, res.ModuleHash
	out.Verified = true // nw.call returns only results that verified
	if res.Session != nil {
		out.Platform = string(res.Session.Platform)
	}
	if pm := res.Payment; pm != nil {
		out.Paid, _ = strconv.ParseUint(pm.Amount, 10, 64)
		out.Transaction = pm.Transaction
	}
	return out, nil
}

// bestMatch returns the best-ranked search result for query whose price is within
// maxPrice, other than the calling agent itself: ErrNotFound when nothing matches,
// ErrDenied when every match costs more.
func (a agentCalls) bestMatch(ctx context.Context, query, caller string, maxPrice uint64) (string, string, error) {
	found, err := a.n.Search(ctx, api.SearchRequest{Description: query, Limit: bestMatchCandidates})
	if err != nil {
		return "", "", agentError(ctx, err)
	}
	if len(found) == 0 {
		return "", "", fmt.Errorf("%w: no agent matches %q", agentnet.ErrNotFound, query)
	}
	limit := new(big.Int).SetUint64(maxPrice)
	self := a.n.PeerID()
	for _, f := range found {
		if f.PeerID == self && f.Name == caller {
			continue // an agent's best match is never itself
		}
		if price, ok := new(big.Int).SetString(f.Price, 10); ok && price.Cmp(limit) <= 0 {
			return f.PeerID, f.Name, nil
		}
	}
	return "", "", fmt.Errorf("%w: %d agents match %q, the best (%s/%s) at %s; none within this call's limit %d",
		agentnet.ErrDenied, len(found), query, found[0].PeerID, found[0].Name, found[0].Price, maxPrice)
}

// paidOnFailure is what a failed call paid: a callee that failed after running is paid
// (its node settles before answering), which the answer's PAYMENT-RESPONSE says. The
// amount is the card's price, or the call's limit when the card says nothing usable.
func paidOnFailure(err error, v *card.Verified, limit uint64) uint64 {
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) {
		return 0
	}
	s := apiErr.Header.Get(x402.HeaderPaymentResponse)
	if s == "" {
		s = apiErr.Header.Get(x402.HeaderPaymentResponseV1)
	}
	st, derr := x402.DecodeSettleResponse(s)
	if s == "" || derr != nil || !st.Success {
		return 0
	}
	if v != nil {
		if price, err := strconv.ParseUint(v.Price.Amount, 10, 64); err == nil && price <= limit {
			return price
		}
	}
	return limit
}

// agentError maps the node's and the client's errors to the host module's sentinels,
// keeping the message.
func agentError(ctx context.Context, err error) error {
	var (
		apiErr   *client.APIError
		payErr   *client.PaymentError
		brErr    *bridge.Error
		notFound *unknownAgentError
	)
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: %v", agentnet.ErrNotFound, err)
	case errors.As(err, &payErr) && (errors.Is(err, client.ErrCannotPay) || errors.Is(err, client.ErrNoPayer)):
		return fmt.Errorf("%w: %v", agentnet.ErrDenied, err)
	case errors.As(err, &payErr):
		return fmt.Errorf("%w: %v", agentnet.ErrRemote, err)
	case errors.As(err, &apiErr) && apiErr.Code == api.CodeTimeout:
		return fmt.Errorf("%w: the callee ran past its node's time limit: %s", agentnet.ErrTimeout, apiErr.Message)
	case errors.As(err, &apiErr) && apiErr.Code == api.CodeUnknownAgent:
		return fmt.Errorf("%w: %s", agentnet.ErrNotFound, apiErr.Message)
	case errors.As(err, &apiErr):
		return fmt.Errorf("%w: the callee's node answered %d %s: %s", agentnet.ErrRemote, apiErr.Status, apiErr.Code, apiErr.Message)
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return fmt.Errorf("%w: %v", agentnet.ErrTimeout, err)
	case errors.As(err, &brErr) && brErr.Code == api.CodeP2PDisabled:
		return fmt.Errorf("%w: %s", agentnet.ErrUnavailable, brErr.Message)
	case errors.As(err, &brErr) && brErr.Status == http.StatusBadRequest:
		return fmt.Errorf("%w: %s", agentnet.ErrBadArgument, brErr.Message)
	}
	// A transport failure (client.ErrTransport) and anything else.
	return fmt.Errorf("%w: %v", agentnet.ErrRemote, err)
}
