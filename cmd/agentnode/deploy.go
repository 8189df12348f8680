package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/api"
)

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("deploy", stderr)
	nodeURL := fs.String("node", "http://127.0.0.1:3000", "the node's bridge URL")
	withdraw := fs.Bool("withdraw", false, "withdraw the agent NAME instead: the node stops running and advertising it")
	asJSON := fs.Bool("json", false, "print the node's answer as JSON")
	token := fs.String("token", os.Getenv("AGENTNODE_API_TOKEN"), "the bridge's API token, when it requires one (default $AGENTNODE_API_TOKEN)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: agentnode deploy [flags] NAME|DIR

Deploys an agent on the node and advertises it in the network. NAME is an
agent already in the node's app_path; DIR is a directory holding agent.toml
and agent.wasm, which are uploaded (validated, stored, advertised).`)
		fs.PrintDefaults()
	}
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	fail := failer(stderr, "deploy")
	if len(pos) != 1 {
		return fail("give one agent: a NAME in the node's app_path or a DIR with agent.toml and agent.wasm")
	}
	c, err := bridgeClient(*nodeURL, *token)
	if err != nil {
		return fail("%v", err)
	}
	target := pos[0]
	var resp *api.DeployResponse
	switch st, statErr := os.Stat(target); {
	case *withdraw:
		resp, err = c.Withdraw(ctx, target)
	case statErr == nil && st.IsDir():
		manifest, readErr := readCapped(filepath.Join(target, agentstore.ManifestFile), agentstore.MaxManifestSize)
		if readErr != nil {
			return fail("%v", readErr)
		}
		module, readErr := readCapped(filepath.Join(target, agentstore.ModuleFile), maxModuleFile)
		if readErr != nil {
			return fail("%v", readErr)
		}
		if _, perr := agentstore.ParseManifest(manifest); perr != nil {
			return fail("%s: %v", filepath.Join(target, agentstore.ManifestFile), perr)
		}
		resp, err = c.Upload(ctx, manifest, module)
	default:
		resp, err = c.Deploy(ctx, target)
	}
	if err != nil {
		return fail("%s", oneLine(err))
	}
	if *asJSON {
		return writeJSON(stdout, fail, resp)
	}
	fmt.Fprintln(stdout, resp.Message)
	a := resp.Agent
	fmt.Fprintf(stdout, "  status:  %s\n  module:  sha256:%s (%d bytes)\n", a.Status, a.ModuleSHA256, a.ModuleSize)
	return 0
}

// maxModuleFile caps a module read for upload: the node's default module
// cap, which a node may lower.
const maxModuleFile = agentstore.DefaultMaxModuleBytes
