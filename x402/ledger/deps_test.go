package ledger

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces DESIGN.md §1: x402 imports neither p2p nor enclave
// (nor node, which composes them).
func TestImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range []string{"p2p", "enclave", "node", "cmd"} {
				if strings.HasPrefix(path, "github.com/agentnet/agentnode/"+bad) {
					t.Errorf("%s imports %s", f, path)
				}
			}
		}
	}
}
