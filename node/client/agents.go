package client

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"

	"github.com/agentnet/agentnode/node/api"
)

// The node's agent and network routes. They go to the bridge at NodeURL
// whatever the transport: they are the node's own API, which a user
// drives, not a node-to-node call.

// Search finds agents in the network by description (POST /search).
func (c *Client) Search(ctx context.Context, req api.SearchRequest) (*api.SearchResponse, error) {
	var resp api.SearchResponse
	if _, err := c.post(ctx, "/search", nil, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Deploy deploys an agent already in the node's app_path (POST
// /agent/deploy {"agent": name}).
func (c *Client) Deploy(ctx context.Context, name string) (*api.DeployResponse, error) {
	var resp api.DeployResponse
	if _, err := c.post(ctx, "/agent/deploy", nil, api.DeployRequest{Agent: name}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Upload deploys an agent from its agent.toml text and module (POST
// /agent/deploy {"manifest", "wasm"}).
func (c *Client) Upload(ctx context.Context, manifest, module []byte) (*api.DeployResponse, error) {
	var resp api.DeployResponse
	req := api.DeployRequest{Manifest: string(manifest), Wasm: hex.EncodeToString(module)}
	if _, err := c.post(ctx, "/agent/deploy", nil, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Withdraw withdraws an agent (DELETE /v1/agents/{name}).
func (c *Client) Withdraw(ctx context.Context, name string) (*api.DeployResponse, error) {
	if c.base == nil {
		return nil, fmt.Errorf("withdraw %s: %w", name, errNoURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.base.String()+"/v1/agents/"+url.PathEscape(name), nil)
	if err != nil {
		return nil, fmt.Errorf("build withdraw request: %w", err)
	}
	var resp api.DeployResponse
	if _, err := c.do(req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Agents lists the node's agents (GET /v1/agents).
func (c *Client) Agents(ctx context.Context) ([]api.Agent, error) {
	var resp api.AgentList
	if err := c.get(ctx, "/v1/agents", &resp); err != nil {
		return nil, err
	}
	return resp.Agents, nil
}

// Peers describes the node's place in the network (GET /v1/peers).
func (c *Client) Peers(ctx context.Context) (*api.PeersResponse, error) {
	var resp api.PeersResponse
	if err := c.get(ctx, "/v1/peers", &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// CallAgent has the node run agent name of peer through the network (POST
// /v1/agents/{peer}/{name}/call) and returns the receipt the node
// verified. Check it yourself with VerifyReceipt: it is self-contained.
func (c *Client) CallAgent(ctx context.Context, peer, name string, req api.CallRequest) (*Receipt, error) {
	var rc Receipt
	path := "/v1/agents/" + url.PathEscape(peer) + "/" + url.PathEscape(name) + "/call"
	if _, err := c.post(ctx, path, nil, req, &rc); err != nil {
		return nil, err
	}
	return &rc, nil
}
