package bridge

import (
	"context"

	"github.com/agentnet/agentnode/enclave"
)

// AgentRuns prepares the runs of the node's deployed agents for the agent-to-agent host
// functions (enclave/wasm/agentnet): the node puts the agent's name, its call depth (read
// from the request) and its budget into the run's context. Runs of modules sent with a
// request get nothing, so they cannot spend the node's money.
type AgentRuns interface {
	// Begin returns the context the run of agent uses and a function that ends the run
	// (freeing its results), called once the run returned. An error refuses the request
	// before it is paid or run, changing no state: a malformed call-depth header is a
	// *Error with status 400.
	Begin(ctx context.Context, call Call, agent string) (context.Context, func(), error)
}

// beginAgentRun starts the agent-to-agent scope of job's run, if it runs a deployed
// agent and the node has one.
func (s *Server) beginAgentRun(ctx context.Context, call Call, job *enclave.Job) (context.Context, func(), error) {
	if s.cfg.AgentRuns == nil || job.Agent() == "" {
		return ctx, func() {}, nil
	}
	return s.cfg.AgentRuns.Begin(ctx, call, job.Agent())
}
