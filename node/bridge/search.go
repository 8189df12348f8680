package bridge

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
)

// Network is the p2p network behind POST /search, GET /v1/peers and POST
// /v1/agents/{peer}/{name}/call; the node implements it. Errors it wants
// answered with a particular status are *Error; the rest go through the
// bridge's usual mapping.
type Network interface {
	// Search finds agents by description in the DHT, verified under the
	// node's peer policy, best first.
	Search(ctx context.Context, req api.SearchRequest) ([]api.FoundAgent, error)
	// Peers describes the node's place in the network.
	Peers() api.PeersResponse
	// Call runs agent name of peer through the network with the node's
	// own session and policy, and returns the verified receipt.
	Call(ctx context.Context, peer, name string, req api.CallRequest) (*client.Receipt, error)
}

// Search limits.
const (
	DefaultSearchLimit = 10
	MaxSearchLimit     = 50
)

func (s *Server) network() (Network, error) {
	if s.cfg.Network == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: api.CodeP2PDisabled,
			Message: "this node runs without the p2p network (p2p = false in its config)"}
	}
	return s.cfg.Network, nil
}

// handleSearch is POST /search {description} -> {message, agents}.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) error {
	var req api.SearchRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(req.Description) == "":
		return &Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: "field description is empty: say what the agent should do"}
	case req.Limit < 0 || req.Limit > MaxSearchLimit:
		return &Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: fmt.Sprintf("field limit: want 1-%d", MaxSearchLimit)}
	case req.Limit == 0:
		req.Limit = DefaultSearchLimit
	}
	nw, err := s.network()
	if err != nil {
		return err
	}
	found, err := nw.Search(r.Context(), req)
	if err != nil {
		return err
	}
	if found == nil {
		found = []api.FoundAgent{}
	}
	writeJSON(w, http.StatusOK, api.SearchResponse{Message: searchMessage(len(found)), Agents: found})
	return nil
}

// searchMessage says how many agents a search found, in the seed's words.
func searchMessage(n int) string {
	switch n {
	case 0:
		return "no agent found"
	case 1:
		return "found 1 agent"
	}
	return fmt.Sprintf("found %d agents", n)
}

// handlePeers is GET /v1/peers.
func (s *Server) handlePeers(w http.ResponseWriter, _ *http.Request) error {
	nw, err := s.network()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nw.Peers())
	return nil
}

// handleCall is POST /v1/agents/{peer}/{name}/call: a remote call through
// the network, answered with the verified receipt.
func (s *Server) handleCall(w http.ResponseWriter, r *http.Request) error {
	var req api.CallRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}
	nw, err := s.network()
	if err != nil {
		return err
	}
	rc, err := nw.Call(r.Context(), r.PathValue("peer"), r.PathValue("name"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rc)
	return nil
}
