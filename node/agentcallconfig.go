package node

import (
	"errors"
	"fmt"
	"math"

	"github.com/agentnet/agentnode/enclave/wasm/agentnet"
)

// AgentCallConfig is the agent-to-agent part of [Config]: how the node's deployed agents
// may call other agents through the agentnet host functions (docs/abi.md). Its keys sit in
// the same flat TOML table as the rest (the struct is embedded).
type AgentCallConfig struct {
	// AgentCallDepth is how deeply agent-to-agent calls may nest: a user's call runs an
	// agent at depth 0, the agents it calls at depth 1, and so on; an agent at this depth
	// may not call. The depth travels to the callee's node with the request, where that
	// node's own limit applies. Default 3, at most 16.
	AgentCallDepth int `toml:"agent_call_depth"`
	// AgentBudget is the most one run of an agent may pay, in total, for the agents it
	// calls, in the payment token's atomic units, for agents whose agent.toml sets no
	// budget. Every payment also passes payer_policy (or max_price). Default 0: such
	// agents make only free calls.
	AgentBudget uint64 `toml:"agent_budget"`
	// AgentCallsPerRun bounds the searches and calls of one agent run. Default 16.
	AgentCallsPerRun int `toml:"agent_calls_per_run"`
}

// validateAgentCalls fills the agent-call defaults and checks their ranges.
func (c *AgentCallConfig) validateAgentCalls() error {
	if c.AgentCallDepth == 0 {
		c.AgentCallDepth = agentnet.DefaultMaxDepth
	}
	if c.AgentCallsPerRun == 0 {
		c.AgentCallsPerRun = agentnet.DefaultMaxCallsPerRun
	}
	var errs []error
	if c.AgentCallDepth < 0 || c.AgentCallDepth > agentnet.MaxDepthLimit {
		errs = append(errs, fmt.Errorf("config agent_call_depth %d: want 1 to %d", c.AgentCallDepth, agentnet.MaxDepthLimit))
	}
	if c.AgentCallsPerRun < 0 || c.AgentCallsPerRun > 1024 {
		errs = append(errs, fmt.Errorf("config agent_calls_per_run %d: want 1 to 1024", c.AgentCallsPerRun))
	}
	if c.AgentBudget > math.MaxInt64 {
		errs = append(errs, errors.New("config agent_budget: over TOML's integers"))
	}
	return errors.Join(errs...)
}
