// Package nodetest starts real nodes for tests: a node on the simulated
// TEE with its bridge on a loopback port, and a client that accepts it.
package nodetest

import (
	"context"
	"testing"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/client"
)

// Start starts a node with a temporary data dir, the simulated TEE and the
// bridge on 127.0.0.1:0; mut may adjust the config first. The node is
// closed when the test ends.
func Start(t testing.TB, mut func(*node.Config)) *node.Node {
	t.Helper()
	cfg := node.Config{Listening: "127.0.0.1:0", DataDir: t.TempDir(), TEE: "sim", LogLevel: "error"}
	if mut != nil {
		mut(&cfg)
	}
	return StartConfig(t, cfg)
}

// StartConfig starts a node with cfg as it is. The node is closed when the
// test ends; a test may close it earlier (Close is idempotent).
func StartConfig(t testing.TB, cfg node.Config) *node.Node {
	t.Helper()
	n, err := node.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	return n
}

// Verifiers are the evidence verifiers test clients use.
func Verifiers() attest.Verifiers { return attest.Verifiers{attest.PlatformSim: sim.Verifier{}} }

// Client returns a client of url that accepts the simulated TEE.
func Client(t testing.TB, url string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{NodeURL: url, Policy: attest.DevPolicy(), Verifiers: Verifiers()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
