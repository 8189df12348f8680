package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/api"
)

// Agents is the node's agent directory behind POST /agent/deploy, GET
// /v1/agents and DELETE /v1/agents/{name}; the node implements it over its
// agent store and card publisher. Errors wrap the agentstore sentinels.
type Agents interface {
	// List returns every agent of app_path, deployed or withdrawn.
	List() []api.Agent
	// Deploy deploys an agent already in app_path; changed is false when
	// it was deployed as it is.
	Deploy(ctx context.Context, name string) (a api.Agent, changed bool, err error)
	// Upload deploys an agent from its manifest text and module.
	Upload(ctx context.Context, manifest, module []byte) (a api.Agent, changed bool, err error)
	// Withdraw stops running and advertising an agent.
	Withdraw(ctx context.Context, name string) (a api.Agent, changed bool, err error)
	// RunTimeout is a deployed agent's own execution limit; 0 means the
	// node's.
	RunTimeout(name string) time.Duration
	// RunFuel is a deployed agent's fuel budget per run (its max_fuel,
	// which a fuel-priced call paid for); 0 means the executor's default.
	RunFuel(name string) uint64
}

// agentLimit bounds a run of a deployed agent by the agent's own limit.
func (s *Server) agentLimit(ctx context.Context, agent string) (context.Context, context.CancelFunc) {
	if agent != "" && s.cfg.Agents != nil {
		if d := s.cfg.Agents.RunTimeout(agent); d > 0 {
			return context.WithTimeout(ctx, d)
		}
	}
	return ctx, func() {}
}

// agentFuel is the fuel budget of a run of a deployed agent; 0 (the
// executor's default) for a module sent with the request.
func (s *Server) agentFuel(agent string) uint64 {
	if agent == "" || s.cfg.Agents == nil {
		return 0
	}
	return s.cfg.Agents.RunFuel(agent)
}

func (s *Server) agents() (Agents, error) {
	if s.cfg.Agents == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: api.CodeBusy, Message: "this node has no agent store"}
	}
	return s.cfg.Agents, nil
}

// handleDeploy is POST /agent/deploy: {"agent": name} deploys an agent
// already in app_path, {"manifest": toml, "wasm": hex} uploads one.
func (s *Server) handleDeploy(w http.ResponseWriter, r *http.Request) error {
	dir, err := s.agents()
	if err != nil {
		return err
	}
	var req api.DeployRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}
	var (
		a       api.Agent
		changed bool
	)
	switch upload := req.Manifest != "" || req.Wasm != ""; {
	case upload && req.Agent != "":
		return &Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: "give agent (a name in app_path) or manifest and wasm (an upload), not both"}
	case upload:
		if req.Manifest == "" || req.Wasm == "" {
			return &Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: "an upload needs both manifest (agent.toml text) and wasm (hex module)"}
		}
		module, err := decodeHex("wasm", req.Wasm)
		if err != nil {
			return err
		}
		a, changed, err = dir.Upload(r.Context(), []byte(req.Manifest), module)
		if err != nil {
			return agentError(err, http.StatusBadRequest)
		}
	case req.Agent == "":
		return &Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: "give agent (a name in app_path) or manifest and wasm (an upload)"}
	default:
		a, changed, err = dir.Deploy(r.Context(), req.Agent)
		if err != nil {
			// The seed answered 400 for an unknown agent; so do we.
			return agentError(err, http.StatusBadRequest)
		}
	}
	msg := fmt.Sprintf("Agent '%s' deployed successfully", a.Name)
	if !changed {
		msg = fmt.Sprintf("Agent '%s' already deployed", a.Name)
	}
	writeJSON(w, http.StatusOK, api.DeployResponse{Message: msg, Agent: a})
	return nil
}

// handleAgents is GET /v1/agents.
func (s *Server) handleAgents(w http.ResponseWriter, _ *http.Request) error {
	dir, err := s.agents()
	if err != nil {
		return err
	}
	list := dir.List()
	if list == nil {
		list = []api.Agent{}
	}
	writeJSON(w, http.StatusOK, api.AgentList{Agents: list})
	return nil
}

// handleWithdraw is DELETE /v1/agents/{name}.
func (s *Server) handleWithdraw(w http.ResponseWriter, r *http.Request) error {
	dir, err := s.agents()
	if err != nil {
		return err
	}
	a, changed, err := dir.Withdraw(r.Context(), r.PathValue("name"))
	if err != nil {
		return agentError(err, http.StatusNotFound)
	}
	msg := fmt.Sprintf("Agent '%s' withdrawn", a.Name)
	if !changed {
		msg = fmt.Sprintf("Agent '%s' already withdrawn", a.Name)
	}
	writeJSON(w, http.StatusOK, api.DeployResponse{Message: msg, Agent: a})
	return nil
}

// agentError maps the agent store's errors; notFound is the status of an
// unknown agent.
func agentError(err error, notFound int) error {
	switch {
	case errors.Is(err, agentstore.ErrNotFound):
		return &Error{Status: notFound, Code: api.CodeUnknownAgent, Message: err.Error()}
	case errors.Is(err, agentstore.ErrBadManifest), errors.Is(err, agentstore.ErrBadAgentDir):
		return &Error{Status: http.StatusBadRequest, Code: api.CodeBadManifest, Message: err.Error()}
	case errors.Is(err, agentstore.ErrTooManyAgents):
		return &Error{Status: http.StatusConflict, Code: api.CodeTooManyAgents, Message: err.Error()}
	}
	return err
}
