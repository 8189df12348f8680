package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/agentnet/agentnode/enclave"
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
	// Deployment returns the terms of a run of the deployed agent name;
	// false when no agent of that name is deployed.
	Deployment(name string) (Deployment, bool)
}

// Deployment is what a run of a deployed agent is bound by. A request reads
// it once, so that a redeploy while the request is in flight cannot pair
// one version's price with another version's module or limits.
type Deployment struct {
	// ModuleSHA256 is the module the deployment runs.
	ModuleSHA256 [32]byte
	// Timeout is the agent's own execution limit; 0 means the node's.
	Timeout time.Duration
	// Fuel is the fuel budget of a run (max_fuel, which a fuel-priced call
	// pays for); 0 means the executor's default.
	Fuel uint64
	// Price is the price of a call: the manifest price plus max_fuel at
	// the fuel price, known before the run.
	Price uint64
}

// deployment reads the terms of the deployed agent job runs; nil for a job
// that brings its own module. The module the enclave resolved when it
// opened the request must still be the deployed one: after a redeploy in
// between, the request is refused (503, to be retried; nothing is charged)
// rather than run one version on another's terms.
func (s *Server) deployment(job *enclave.Job) (*Deployment, error) {
	name := job.Agent()
	if name == "" || s.cfg.Agents == nil {
		return nil, nil
	}
	d, ok := s.cfg.Agents.Deployment(name)
	switch {
	case !ok:
		return nil, &Error{Status: http.StatusNotFound, Code: api.CodeUnknownAgent,
			Message: fmt.Sprintf("agent %q was withdrawn while this request was opened", name)}
	case d.ModuleSHA256 != job.ModuleHash():
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: api.CodeBusy,
			Message: fmt.Sprintf("agent %q was redeployed while this request was opened; send it again", name),
			Header:  http.Header{"Retry-After": {"1"}}}
	}
	return &d, nil
}

// limit bounds a run by the agent's own limit, if it has one.
func (d *Deployment) limit(ctx context.Context) (context.Context, context.CancelFunc) {
	if d != nil && d.Timeout > 0 {
		return context.WithTimeout(ctx, d.Timeout)
	}
	return ctx, func() {}
}

// fuel is the fuel budget of the run; 0 (the executor's default) for a
// module sent with the request.
func (d *Deployment) fuel() uint64 {
	if d == nil {
		return 0
	}
	return d.Fuel
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
