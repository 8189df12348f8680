package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/node/nodetest"
)

// TestDeploySearchCallPeers drives the network commands end to end on two
// nodes: deploy an agent directory on one, find it from the other by what
// it does, call it through the network, and list peers.
func TestDeploySearchCallPeers(t *testing.T) {
	nw := nettest.Start(t, 2, nettest.Options{})
	owner, user := nw.Nodes[1].BridgeURL(), nw.Nodes[0].BridgeURL()
	a := nettest.Agent{Name: "shout", Description: "shouts greetings across valleys", Tags: []string{"greeting"}, Banner: "HEY"}
	dir := filepath.Join(t.TempDir(), "shout")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	a.Write(t, filepath.Dir(dir))

	code, out, errOut := runCmd(t, "deploy", "--node", owner, dir)
	if code != 0 || !strings.Contains(out, "Agent 'shout' deployed successfully") || !strings.Contains(out, "status:  deployed") {
		t.Fatalf("deploy: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, _ = runCmd(t, "deploy", dir, "--node", owner); code != 0 || !strings.Contains(out, "already deployed") {
		t.Fatalf("second deploy: exit %d, stdout %q", code, out)
	}
	if code, _, errOut = runCmd(t, "deploy", "--node", owner, "nobody"); code != 1 || !strings.Contains(errOut, "unknown_agent") {
		t.Fatalf("deploy of an unknown name: exit %d, stderr %q", code, errOut)
	}

	peer := nw.Nodes[1].PeerID()
	if err := nettest.Eventually(30*time.Second, 100*time.Millisecond, func() error {
		code, out, errOut = runCmd(t, "search", "--node", user, "shout", "across", "valleys")
		if code != 0 || !strings.Contains(out, peer+"/shout") {
			return &cmdError{out + errOut}
		}
		return nil
	}); err != nil {
		t.Fatalf("search never found the agent: %v", err)
	}
	if !strings.HasPrefix(out, "found 1 agent\n") || !strings.Contains(out, "free") || !strings.Contains(out, "sim") {
		t.Fatalf("search output %q", out)
	}

	code, out, errOut = runCmd(t, "call", "--node", user, "--allow-sim", peer+"/shout", "--arg", "hello", "--arg", "world")
	if code != 0 || out != "HEY hello world\n" {
		t.Fatalf("call: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "call", "--node", user, "--allow-sim", "--json", peer+"/shout")
	var rc client.Receipt
	if code != 0 || json.Unmarshal([]byte(out), &rc) != nil || !rc.Verified || rc.Output != "HEY\n" || rc.PeerID != peer {
		t.Fatalf("call --json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Without --allow-sim this command refuses the simulated TEE itself.
	if code, out, errOut = runCmd(t, "call", "--node", user, peer+"/shout"); code != 1 || out != "" || !strings.Contains(errOut, "--allow-sim") {
		t.Fatalf("call without --allow-sim: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut = runCmd(t, "call", "--node", user, "--allow-sim", "shout"); code != 1 || !strings.Contains(errOut, "PEER/NAME") {
		t.Fatalf("call without a peer: exit %d, stderr %q", code, errOut)
	}

	code, out, errOut = runCmd(t, "peers", "--node", user)
	if code != 0 || !strings.Contains(out, nw.Nodes[0].PeerID()) || !strings.Contains(out, peer) {
		t.Fatalf("peers: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	if code, out, _ = runCmd(t, "deploy", "--node", owner, "--withdraw", "shout"); code != 0 || !strings.Contains(out, "Agent 'shout' withdrawn") {
		t.Fatalf("withdraw: exit %d, stdout %q", code, out)
	}
	if code, out, _ = runCmd(t, "deploy", "--node", owner, "shout"); code != 0 || !strings.Contains(out, "deployed successfully") {
		t.Fatalf("redeploy by name: exit %d, stdout %q", code, out)
	}
}

func TestSearchNeedsWords(t *testing.T) {
	if code, _, errOut := runCmd(t, "search", "--node", "http://127.0.0.1:1"); code != 1 || !strings.Contains(errOut, "say what the agent should do") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

type cmdError struct{ out string }

func (e *cmdError) Error() string { return e.out }

func TestRunTakesP2PFlags(t *testing.T) {
	code, _, errOut := runCmd(t, "run", "--bootstrap", "/ip4/127.0.0.1/tcp/4001")
	if code != 1 || !strings.Contains(errOut, "bootstrap") || !strings.Contains(errOut, "/p2p/") {
		t.Fatalf("bootstrap without a peer id: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCmd(t, "run", "--p2p-listen", "tcp/4001")
	if code != 1 || !strings.Contains(errOut, "p2p_listen") {
		t.Fatalf("bad listen address: exit %d, stderr %q", code, errOut)
	}
}

func TestDeployDirectoryErrors(t *testing.T) {
	n := nodetest.Start(t, nil)
	dir := t.TempDir()
	if code, _, errOut := runCmd(t, "deploy", "--node", n.BridgeURL(), dir); code != 1 || !strings.Contains(errOut, "agent.toml") {
		t.Fatalf("empty directory: exit %d, stderr %q", code, errOut)
	}
	if err := os.WriteFile(filepath.Join(dir, "agent.toml"), []byte("name = \"x\"\ndescription = \"d\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "agent.wasm"), []byte("not wasm"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCmd(t, "deploy", "--node", n.BridgeURL(), dir); code != 1 || out != "" || !strings.Contains(errOut, "invalid_module") {
		t.Fatalf("invalid module: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
