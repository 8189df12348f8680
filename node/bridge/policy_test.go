package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
)

func TestPolicyRouteRunsSealedStarlark(t *testing.T) {
	n := nodetest.Start(t, nil)
	c := nodetest.Client(t, n.BridgeURL())
	src := "def main(args):\n    total = 0\n    for a in args:\n        total += int(a)\n    return {\"sum\": total}\n"
	res, err := c.Exec(context.Background(), client.ExecInput{Script: src, Args: []string{"1", "2", "39"}, AttestResult: true})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]int
	if err := json.Unmarshal(res.Output, &out); err != nil || out["sum"] != 42 {
		t.Fatalf("output %s: %v", res.Output, err)
	}
	if res.ResultEvidence == nil || res.Fuel == 0 {
		t.Fatalf("evidence %v fuel %d", res.ResultEvidence, res.Fuel)
	}
	// A runaway script is stopped with a clear error naming file:line, and
	// the node keeps serving.
	var apiErr *client.APIError
	_, err = c.Exec(context.Background(), client.ExecInput{Script: "def main(args):\n  for x in range(1000000000000):\n    pass\n"})
	if !errors.As(err, &apiErr) || apiErr.Code != api.CodeScriptError || !strings.Contains(apiErr.Message, "policy.star:") {
		t.Fatalf("step limit: %v", err)
	}
	if res, err := c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.Hello}); err != nil || string(res.Output) != "hello\n" {
		t.Fatalf("after scripts: %v", err)
	}
}

func TestRoutesDoNotMixScriptsAndModules(t *testing.T) {
	n := nodetest.Start(t, nil)
	s := rawSession(t, nodetest.Client(t, n.BridgeURL()))
	script := sealed(t, s, client.ExecInput{Script: "def main(args):\n    return 1\n"})
	if status, e := post(t, n.BridgeURL()+"/x402_execute/verifiable/wasm", script, nil); status != 400 || !strings.Contains(e.Message, "/x402_policy/unsafe/python") {
		t.Fatalf("script on the execution route: %d %s", status, e.Message)
	}
	module := sealed(t, s, client.ExecInput{Wasm: wasmtest.Hello})
	if status, e := post(t, n.BridgeURL()+"/x402_policy/unsafe/python", module, nil); status != 400 || !strings.Contains(e.Message, "script") {
		t.Fatalf("module on the policy route: %d %s", status, e.Message)
	}
	// Neither refusal consumed the request ids.
	var resp api.ExecResponse
	if status, e := post(t, n.BridgeURL()+"/x402_policy/unsafe/python", script, &resp); status != 200 {
		t.Fatalf("script on its route after the refusal: %d %s", status, e.Message)
	}
}
