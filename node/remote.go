package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/bridge"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/p2p"
	"github.com/agentnet/agentnode/p2p/card"
	attestproto "github.com/agentnet/agentnode/p2p/proto/attest"
	execproto "github.com/agentnet/agentnode/p2p/proto/exec"
)

// Remote calls: this node as the client of another node's agent.

// remote is a node this node calls: a client whose session stays warm,
// and the slots of the calls in flight to it (nil for the node itself).
type remote struct {
	client *client.Client
	slots  chan struct{}
}

// CallAgent runs agent name of node peerID through the network: it finds
// the agent's verified card, opens (or reuses) an attested session with
// the node over the attest stream, sends the sealed request over the exec
// stream, and verifies the result exactly as the HTTP client does (session
// evidence under the node's peer policy, commitment, signature, and the
// module the card advertises). An agent of this node itself takes the same
// path in process.
func (n *Node) CallAgent(ctx context.Context, peerID, name string, req api.CallRequest) (*client.Receipt, error) {
	nw := n.net
	if nw == nil {
		return nil, ErrP2PDisabled
	}
	p, err := peer.Decode(peerID)
	if err != nil {
		return nil, &bridge.Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: fmt.Sprintf("peer %q is not a peer id", peerID)}
	}
	if err := card.CheckName(name); err != nil {
		return nil, &bridge.Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: err.Error()}
	}
	in := client.ExecInput{Agent: name, Args: req.Args, Stdin: req.Stdin, AttestResult: req.AttestResult}
	start := time.Now()
	res, _, err := nw.call(ctx, p, &in)
	n.recordCall(p, name, "", start, res, err)
	var notFound *unknownAgentError
	switch {
	case errors.As(err, &notFound):
		return nil, &bridge.Error{Status: http.StatusNotFound, Code: api.CodeUnknownAgent,
			Message: fmt.Sprintf("no agent %s with a card that verifies under this node's peer policy on peer %s: %v", name, p, notFound.err)}
	case err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return nil, ctx.Err()
	case err != nil:
		return nil, callError(p, err)
	}
	rc := res.Receipt(in, nw.policy)
	return &rc, nil
}

// unknownAgentError is call's answer when the agent has no card that
// verifies under the node's peer policy.
type unknownAgentError struct{ err error }

func (e *unknownAgentError) Error() string { return "unknown agent: " + e.err.Error() }
func (e *unknownAgentError) Unwrap() error { return e.err }

// call is the core of a remote call, for users (CallAgent) and agents
// (agentCalls): it finds agent in.Agent's verified card on node p, fills
// in what the card fixes (module, tags), and runs in through p's cached
// client, within callTimeout. Errors are the client's, unmapped; a card
// that does not verify is an *unknownAgentError.
func (nw *network) call(ctx context.Context, p peer.ID, in *client.ExecInput) (*client.Result, *card.Verified, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	v, err := nw.searcher.Agent(ctx, p, in.Agent)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, &unknownAgentError{err: err}
	}
	in.Module, in.Tags = v.ModuleSHA256, v.Tags
	r, err := nw.remote(p, v.Addrs)
	if err != nil {
		return nil, v, err
	}
	// Calls to another node wait for one of its slots (its streams are
	// bounded per peer); a call of this node's own agent takes no stream,
	// and nested agent calls to the node itself must not wait for each
	// other's slots.
	if r.slots != nil {
		select {
		case r.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, v, ctx.Err()
		}
		defer func() { <-r.slots }()
	}
	res, err := r.client.Exec(ctx, *in)
	if err != nil {
		nw.searcher.Forget(p)
		return nil, v, err
	}
	return res, v, nil
}

// remote returns node p's cached client, whose session stays warm across
// calls, after adding p's card addresses to the peerstore so that the host
// can dial it.
func (nw *network) remote(p peer.ID, addrs []string) (*remote, error) {
	lh := nw.host.Libp2p()
	if lh == nil {
		return nil, p2p.ErrNotStarted
	}
	if p != lh.ID() {
		var mas []ma.Multiaddr
		for _, a := range addrs {
			if m, err := ma.NewMultiaddr(a); err == nil {
				mas = append(mas, m)
			}
		}
		lh.Peerstore().AddAddrs(p, mas, peerstore.TempAddrTTL)
	}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if r, ok := nw.clients.Get(p); ok {
		return r, nil
	}
	var tr client.Transport = nw.local
	if p != lh.ID() {
		tr = client.NewP2PTransport(lh, p)
	}
	c, err := client.New(client.Config{Transport: tr, PeerID: p.String(), Policy: nw.policy, Verifiers: nw.verifiers, Payer: nw.payer})
	if err != nil {
		return nil, err
	}
	r := &remote{client: c}
	if p != lh.ID() {
		r.slots = make(chan struct{}, callsPerPeer)
	}
	nw.clients.Add(p, r)
	return r, nil
}

// callError says why a remote call failed: the remote node's own refusal
// passes through (its code and Retry-After) but for authentication codes,
// which would read as this bridge's; a payment this node could not make is
// payment_required without the remote's x402 headers (they are not this
// bridge's terms); a transport
// failure is peer_unreachable; evidence the policy refuses is
// untrusted_peer; anything else failed the client's verification.
func callError(p peer.ID, err error) error {
	var apiErr *client.APIError
	var payErr *client.PaymentError
	policy := []error{attest.ErrPlatformNotAllowed, attest.ErrMeasurementMismatch, attest.ErrDebug, attest.ErrEvidenceTooOld,
		attest.ErrTCBOutOfDate, attest.ErrPolicyViolation, attest.ErrNoVerifier}
	switch {
	case errors.As(err, &payErr):
		// The remote's terms are not this bridge's: its payment headers
		// stay out, so that no x402 client pays this node for them.
		return &bridge.Error{Status: http.StatusPaymentRequired, Code: api.CodePaymentRequired, Message: fmt.Sprintf("peer %s: %v", p, payErr)}
	case errors.As(err, &apiErr):
		status := apiErr.Status
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			status = http.StatusBadGateway
		}
		return &bridge.Error{Status: status, Code: apiErr.Code, Message: fmt.Sprintf("peer %s: %s", p, apiErr.Message), Header: apiErr.Header}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &bridge.Error{Status: http.StatusGatewayTimeout, Code: api.CodeTimeout, Message: fmt.Sprintf("peer %s: %v", p, err)}
	case errors.Is(err, client.ErrTransport):
		return &bridge.Error{Status: http.StatusBadGateway, Code: api.CodePeerUnreachable, Message: err.Error()}
	}
	for _, target := range policy {
		if errors.Is(err, target) {
			return &bridge.Error{Status: http.StatusBadGateway, Code: api.CodeUntrustedPeer, Message: fmt.Sprintf("peer %s: %v", p, err)}
		}
	}
	return &bridge.Error{Status: http.StatusBadGateway, Code: api.CodeVerificationFailed, Message: fmt.Sprintf("peer %s: %v", p, err)}
}

// localTransport is this node's own bridge core, in process: a call of an
// agent of this node takes the client path of a remote one (session,
// sealing, verification) without a stream to itself.
type localTransport struct{ br *bridge.Server }

func (t localTransport) CreateKeypair(ctx context.Context, req *api.CreateKeypairRequest) (*api.CreateKeypairResponse, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode session request: %w", err)
	}
	rep := t.br.OpenSession(ctx, bridge.Call{Body: b, Resource: attestproto.ID})
	var resp api.CreateKeypairResponse
	if err := decodeReply(rep, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

func (t localTransport) Exec(ctx context.Context, header http.Header, req *api.ExecRequest) (*api.ExecResponse, http.Header, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, nil, fmt.Errorf("encode exec request: %w", err)
	}
	rep := t.br.Exec(ctx, bridge.Call{Header: header, Body: b, Resource: execproto.ID})
	var resp api.ExecResponse
	if err := decodeReply(rep, &resp); err != nil {
		return nil, nil, err
	}
	return &resp, rep.Header, nil
}

// decodeReply decodes a bridge reply, or returns its error as the client's
// *APIError.
func decodeReply(rep bridge.Reply, v any) error {
	if rep.Status/100 != 2 {
		return client.ReplyError(rep.Status, rep.Header, rep.Body)
	}
	if err := json.Unmarshal(rep.Body, v); err != nil {
		return fmt.Errorf("decode local reply: %w", err)
	}
	return nil
}
