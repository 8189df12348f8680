package x402_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The dependency rule of DESIGN.md §1: x402 and everything under it import
// neither p2p, enclave nor node.
func TestDependencyRule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-test", "github.com/agentnet/agentnode/x402/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"p2p", "enclave", "node", "cmd"} {
			prefix := "github.com/agentnet/agentnode/" + banned
			if pkg == prefix || strings.HasPrefix(pkg, prefix+"/") {
				t.Errorf("x402 depends on %s", pkg)
			}
		}
	}
}
