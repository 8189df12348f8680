package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Target is one fuzz target: a package and a FuzzXxx function in it.
type Target struct {
	// Package is the import path; Dir its directory.
	Package, Dir string
	// Name is the function name, e.g. FuzzDecodeHeaders.
	Name string
}

// String returns "package.Name".
func (t Target) String() string { return t.Package + "." + t.Name }

// listedPackage is the part of `go list -json` output Find reads.
type listedPackage struct {
	ImportPath   string
	Dir          string
	TestGoFiles  []string
	XTestGoFiles []string
}

// Find lists the fuzz targets of the packages matched by patterns, sorted
// by package and name.
func Find(ctx context.Context, goCmd string, patterns []string) ([]Target, error) {
	args := append([]string{"list", "-json=ImportPath,Dir,TestGoFiles,XTestGoFiles"}, patterns...)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var targets []Target
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		files := append(append([]string(nil), p.TestGoFiles...), p.XTestGoFiles...)
		for _, f := range files {
			names, err := FuzzFuncs(filepath.Join(p.Dir, f))
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				targets = append(targets, Target{Package: p.ImportPath, Dir: p.Dir, Name: n})
			}
		}
	}
	sort.Slice(targets, func(i, j int) bool {
		if targets[i].Package != targets[j].Package {
			return targets[i].Package < targets[j].Package
		}
		return targets[i].Name < targets[j].Name
	})
	return targets, nil
}

// FuzzFuncs returns the fuzz targets a test file declares: top-level
// functions named Fuzz<Upper...> taking one *testing.F, as go test
// recognises them.
func FuzzFuncs(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	testing := "testing"
	for _, imp := range f.Imports {
		if imp.Path.Value == `"testing"` && imp.Name != nil {
			testing = imp.Name.Name
		}
	}
	var names []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || !isFuzzName(fn.Name.Name) {
			continue
		}
		params := fn.Type.Params.List
		if len(params) != 1 || len(params[0].Names) > 1 || fn.Type.Results != nil {
			continue
		}
		star, ok := params[0].Type.(*ast.StarExpr)
		if !ok {
			continue
		}
		sel, ok := star.X.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "F" {
			continue
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == testing {
			names = append(names, fn.Name.Name)
		}
	}
	return names, nil
}

// isFuzzName reports whether name is "Fuzz" followed by nothing or by a
// character that is not a lowercase letter (go test's rule).
func isFuzzName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Fuzz")
	if !ok {
		return false
	}
	return rest == "" || !(rest[0] >= 'a' && rest[0] <= 'z')
}

// Filter keeps the targets whose String matches re; nil keeps all.
func Filter(ts []Target, re *regexp.Regexp) []Target {
	if re == nil {
		return ts
	}
	var out []Target
	for _, t := range ts {
		if re.MatchString(t.String()) {
			out = append(out, t)
		}
	}
	return out
}
