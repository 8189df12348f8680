package p2p_test

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/agentnet/agentnode/"

// TestDependencyRule enforces DESIGN.md §1 for the p2p tree: its packages
// import, of this module, only p2p packages, enclave/attest and x402; the
// test helpers of p2ptest may also use the simulated TEE. Never enclave
// itself (the trust boundary), node, or x402's internals.
func TestDependencyRule(t *testing.T) {
	seen := 0
	err := filepath.WalkDir(".", func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() == "testdata" {
			return err
		}
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		seen++
		for _, imp := range pkg.Imports {
			rest, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			ok := rest == "p2p" || strings.HasPrefix(rest, "p2p/") || rest == "enclave/attest" || rest == "x402" ||
				(dir == "p2ptest" && strings.HasPrefix(rest, "enclave/attest/"))
			if !ok {
				t.Errorf("p2p/%s imports %s", dir, imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 7 { // p2p, card, discovery, p2ptest, proto/{attest,card,exec}
		t.Fatalf("walked %d packages: the test is not looking at the tree", seen)
	}
}
