package enclave_test

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestDependencyRule enforces DESIGN.md §1 for the trust boundary: no
// package under enclave/ imports p2p, x402, node, testnet or cmd. What the
// enclave needs from them it declares as an interface that node plugs in.
func TestDependencyRule(t *testing.T) {
	const module = "github.com/agentnet/agentnode/"
	forbidden := []string{"p2p", "x402", "node", "testnet", "cmd"}
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
		for _, imp := range append(pkg.Imports, pkg.TestImports...) {
			rest, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			for _, f := range forbidden {
				if rest == f || strings.HasPrefix(rest, f+"/") {
					t.Errorf("enclave/%s imports %s", dir, imp)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 8 {
		t.Fatalf("walked %d packages: the test does not see the enclave tree", seen)
	}
}
