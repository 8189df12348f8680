package script

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports: the sandbox is a leaf. It imports no agentnode package and
// nothing that reaches the outside world (files, network, processes).
func TestImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	forbidden := []string{"github.com/agentnet/agentnode/", "os", "os/exec", "net", "net/http", "syscall", "unsafe", "plugin"}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || strings.HasSuffix(bad, "/") && strings.HasPrefix(path, bad) {
					t.Errorf("%s imports %s", f, path)
				}
			}
		}
	}
}
