package wasm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goGuestSource = `package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	in, _ := io.ReadAll(os.Stdin)
	b := make([]byte, 8)
	rand.Read(b)
	_, err := os.ReadFile("/etc/passwd")
	fmt.Printf("args=%q stdin=%q rand=%x year=%d env=%d fs=%v\n",
		os.Args, in, b, time.Now().UTC().Year(), len(os.Environ()), err != nil)
	if len(os.Args) > 1 && os.Args[1] == "fail" {
		os.Exit(7)
	}
}
`

// TestGoGuest builds a real Go program for wasip1 (2.8 MB, a table without a maximum,
// tens of thousands of data segments, a name section) and runs it: the executor must
// admit what the Go toolchain produces, and the sandbox must hold for it.
func TestGoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program for wasip1")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module guest\n\ngo 1.26\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goGuestSource), 0o600); err != nil {
		t.Fatal(err)
	}
	build := exec.Command(goTool, "build", "-o", "guest.wasm", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "guest.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scanModule(wasm)
	if err != nil || bytes.Equal(sc.wasm, wasm) {
		t.Fatalf("scan: %v; the unbounded Go table must be given a maximum", err)
	}

	e := newExecutor(t, Config{Timeout: 30 * time.Second})
	m := mustCompile(t, e, wasm)
	run := func(in Input) *Result {
		t.Helper()
		res, err := e.Run(context.Background(), m, in)
		if err != nil {
			t.Fatalf("Run: %v (stderr %q)", err, res.Stderr)
		}
		return res
	}
	seed := Input{Args: []string{"x", "y z"}, Stdin: []byte("in"), Seed: [32]byte{9}}
	a, b := run(seed), run(seed)
	out := string(a.Stdout)
	for _, want := range []string{`args=["agent" "x" "y z"]`, `stdin="in"`, "year=2022", "env=0", "fs=true"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if !bytes.Equal(a.Stdout, b.Stdout) {
		t.Errorf("same input, different output: %q vs %q", a.Stdout, b.Stdout)
	}
	if c := run(Input{Args: seed.Args, Stdin: seed.Stdin, Seed: [32]byte{10}}); bytes.Equal(c.Stdout, a.Stdout) {
		t.Error("another seed, same random bytes")
	}
	if res := run(Input{Args: []string{"fail"}}); res.ExitCode != 7 {
		t.Errorf("exit code %d, want 7", res.ExitCode)
	}
}
