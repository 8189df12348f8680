package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/agentnet/agentnode/node/api"
	attestproto "github.com/agentnet/agentnode/p2p/proto/attest"
	execproto "github.com/agentnet/agentnode/p2p/proto/exec"
)

// Transport carries a client's two calls to a node: opening a session and
// running a sealed request. It moves the bridge's JSON bodies and nothing
// else; everything that makes them trustworthy (evidence, binding, sealing,
// commitment, signature) is the Client's, one and the same code whatever
// the transport. A refusal by the node is an *APIError, whose Header
// carries x402 requirements on 402.
type Transport interface {
	CreateKeypair(ctx context.Context, req *api.CreateKeypairRequest) (*api.CreateKeypairResponse, error)
	Exec(ctx context.Context, header http.Header, req *api.ExecRequest) (*api.ExecResponse, http.Header, error)
}

// httpTransport is the node's HTTP bridge at Config.NodeURL.
type httpTransport struct{ c *Client }

func (t httpTransport) CreateKeypair(ctx context.Context, req *api.CreateKeypairRequest) (*api.CreateKeypairResponse, error) {
	var resp api.CreateKeypairResponse
	if _, err := t.c.post(ctx, "/verifiable/encrypt/create_keypair", nil, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

func (t httpTransport) Exec(ctx context.Context, header http.Header, req *api.ExecRequest) (*api.ExecResponse, http.Header, error) {
	var resp api.ExecResponse
	h, err := t.c.post(ctx, "/x402_execute/verifiable/wasm", header, req, &resp)
	if err != nil {
		return nil, nil, err
	}
	return &resp, h, nil
}

// P2PTransport reaches one node over libp2p: sessions over
// /agentnet/attest/1.0.0 and executions over /agentnet/exec/1.0.0, which
// carry the bridge's bodies and headers. Noise authenticates the peer;
// set Config.PeerID to the same peer so that the session's identity key is
// checked against it.
type P2PTransport struct {
	host host.Host
	peer peer.ID
}

// NewP2PTransport returns a transport from h to peer p. h must know how to
// dial p (a connection, or addresses in its peerstore).
func NewP2PTransport(h host.Host, p peer.ID) *P2PTransport {
	return &P2PTransport{host: h, peer: p}
}

// CreateKeypair opens a session over the attest protocol.
func (t *P2PTransport) CreateKeypair(ctx context.Context, req *api.CreateKeypairRequest) (*api.CreateKeypairResponse, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode session request: %w", err)
	}
	body, err := attestproto.Open(ctx, t.host, t.peer, b)
	var refusal *attestproto.Error
	if errors.As(err, &refusal) {
		return nil, &APIError{Status: refusal.Status, Code: refusal.Code, Message: refusal.Message, Header: http.Header{}}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	var resp api.CreateKeypairResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decode session response of %s: %w: %w", t.peer, ErrTransport, err)
	}
	return &resp, nil
}

// Exec runs a sealed request over the exec protocol.
func (t *P2PTransport) Exec(ctx context.Context, header http.Header, req *api.ExecRequest) (*api.ExecResponse, http.Header, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, nil, fmt.Errorf("encode exec request: %w", err)
	}
	var hdr map[string]string
	if len(header) > 0 {
		hdr = make(map[string]string, len(header))
		for k, v := range header {
			hdr[k] = strings.Join(v, ", ")
		}
	}
	resp, err := execproto.Call(ctx, t.host, t.peer, execproto.Request{Headers: hdr, Body: b})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	return execReply(t.peer, resp)
}

// execReply turns a peer's exec answer into the transport's results: the
// decoded response on 2xx, an *APIError (with the payment requirements on
// 402) otherwise. The answer comes from the network: it is decoded
// defensively, within the exec protocol's size caps.
func execReply(p peer.ID, resp execproto.Response) (*api.ExecResponse, http.Header, error) {
	h := make(http.Header, len(resp.Headers))
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	if resp.Status/100 != 2 {
		return nil, nil, ReplyError(resp.Status, h, resp.Body)
	}
	var out api.ExecResponse
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, nil, fmt.Errorf("decode exec response of %s: %w: %w", p, ErrTransport, err)
	}
	return &out, h, nil
}
