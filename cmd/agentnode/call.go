package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
)

func runCall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("call", stderr)
	nodeURL := fs.String("node", "http://127.0.0.1:3000", "the node's bridge URL")
	stdinPath := fs.String("stdin", "", "file whose content is the agent's stdin")
	asJSON := fs.Bool("json", false, "print the verifiable receipt as JSON instead of the output")
	attestResult := fs.Bool("attest-result", false, "ask the remote node for fresh evidence over the result's commitment")
	token := fs.String("token", os.Getenv("AGENTNODE_API_TOKEN"), "the bridge's API token, when it requires one (default $AGENTNODE_API_TOKEN)")
	trust := addTrustFlags(fs, "an agent")
	var argv multiFlag
	fs.Var(&argv, "arg", "an argument for the agent (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: agentnode call [flags] PEER/NAME

Runs agent NAME of node PEER through the network: your node opens an
attested session with PEER, sends the request sealed, and verifies the
result. This command checks the receipt again here, under its own policy,
and prints the agent's output (or, with --json, the receipt).`)
		fs.PrintDefaults()
	}
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	fail := failer(stderr, "call")
	if len(pos) != 1 {
		return fail("give the agent as PEER/NAME, as agentnode search prints it")
	}
	peer, name, found := strings.Cut(pos[0], "/")
	if !found || peer == "" || name == "" {
		return fail("agent %q: want PEER/NAME", pos[0])
	}
	req := api.CallRequest{Args: argv, AttestResult: *attestResult}
	if *stdinPath != "" {
		var err error
		if req.Stdin, err = os.ReadFile(*stdinPath); err != nil {
			return fail("%v", err)
		}
	}
	policy, vs, err := trust.load()
	if err != nil {
		return fail("%v", err)
	}
	c, err := client.New(client.Config{NodeURL: *nodeURL, Verifiers: vs, Policy: policy, APIToken: *token})
	if err != nil {
		return fail("%v", err)
	}
	rc, err := c.CallAgent(ctx, peer, name, req)
	if err != nil {
		return fail("%s", oneLine(err))
	}
	// The node verified the result; so does this command, offline and
	// under its own policy, and it checks the receipt is for what it asked.
	if rc.PeerID != peer || rc.Agent != name {
		return fail("the node answered with a receipt of %s/%s", rc.PeerID, rc.Agent)
	}
	if _, err := client.VerifyReceipt(ctx, rc, vs, policy); err != nil {
		return fail("the receipt does not verify here: %s", oneLine(err))
	}
	if *asJSON {
		if code := writeJSON(stdout, fail, rc); code != 0 {
			return code
		}
	} else {
		if !policy.Pinned(attest.Platform(rc.Platform)) {
			fmt.Fprintf(stderr, "agentnode call: measurement: unpinned (genuine %s evidence, but no policy pins which code runs; see docs/policy.md)\n", rc.Platform)
		}
		if _, err := stdout.Write(rc.OutputBase64); err != nil {
			return fail("%v", err)
		}
	}
	if rc.ExitCode != 0 {
		fmt.Fprintf(stderr, "agentnode call: agent exited with status %d\n", rc.ExitCode)
		if rc.ExitCode > 125 {
			return 1
		}
		return int(rc.ExitCode)
	}
	return 0
}
