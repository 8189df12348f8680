package agentstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node/agentstore"
)

func newExecutor(t *testing.T) *wasm.Executor {
	t.Helper()
	e, err := wasm.New(context.Background(), wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

func open(t *testing.T, dir string, e *wasm.Executor) *agentstore.Store {
	t.Helper()
	s, err := agentstore.Open(context.Background(), agentstore.Config{Dir: dir, Compiler: e, MaxTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func manifest(name, desc string) []byte {
	return []byte("name = \"" + name + "\"\ndescription = \"" + desc + "\"\n")
}

func writeAgent(t *testing.T, dir, name string, toml, module []byte) {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if toml != nil {
		if err := os.WriteFile(filepath.Join(d, agentstore.ManifestFile), toml, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if module != nil {
		if err := os.WriteFile(filepath.Join(d, agentstore.ModuleFile), module, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func run(t *testing.T, e *wasm.Executor, s *agentstore.Store, name string, args ...string) string {
	t.Helper()
	m, err := s.ResolveAgent(context.Background(), name)
	if err != nil {
		t.Fatalf("resolve %s: %v", name, err)
	}
	res, err := e.Run(context.Background(), m, wasm.Input{Args: args})
	if err != nil {
		t.Fatalf("run %s: %v", name, err)
	}
	return string(res.Stdout)
}

func names(as []agentstore.Agent) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

func TestOpenLoadsAppPath(t *testing.T) {
	dir, e := t.TempDir(), newExecutor(t)
	writeAgent(t, dir, "echo", manifest("echo", "prints its arguments"), wasmtest.EchoArgs)
	writeAgent(t, dir, "hello", []byte("name = \"hello\"\ndescription = \"greets\"\nmax_fuel = 5000\n[limits]\ntimeout = \"1s\""), wasmtest.Hello)
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not an agent"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, e)
	if got := names(s.Deployed()); !slices.Equal(got, []string{"echo", "hello"}) {
		t.Fatalf("deployed %v", got)
	}
	a, _ := s.Get("echo")
	if a.ModuleSHA256 != sha256.Sum256(wasmtest.EchoArgs) || a.ModuleSize != len(wasmtest.EchoArgs) || !a.Deployed {
		t.Fatalf("agent %+v", a)
	}
	if out := run(t, e, s, "echo", "a", "b"); out != "a b\n" {
		t.Fatalf("echo printed %q", out)
	}
	hello, _ := s.Get("hello")
	echo, _ := s.Get("echo")
	if hello.Limits.Timeout.Duration != time.Second || echo.Limits.Timeout.Duration != 0 {
		t.Fatalf("timeouts %v %v", hello.Limits.Timeout, echo.Limits.Timeout)
	}
	if hello.MaxFuel != 5000 || echo.MaxFuel != 0 {
		t.Fatalf("fuel budgets %d %d", hello.MaxFuel, echo.MaxFuel)
	}
	if _, err := s.ResolveAgent(context.Background(), "nobody"); !errors.Is(err, enclave.ErrUnknownAgent) {
		t.Fatalf("resolve unknown: %v", err)
	}
}

func TestOpenRefusesBrokenAgentDirs(t *testing.T) {
	e := newExecutor(t)
	for name, write := range map[string]func(dir string){
		"name mismatch":  func(d string) { writeAgent(t, d, "a", manifest("b", "x"), wasmtest.Hello) },
		"no module":      func(d string) { writeAgent(t, d, "a", manifest("a", "x"), nil) },
		"no manifest":    func(d string) { writeAgent(t, d, "a", nil, wasmtest.Hello) },
		"bad manifest":   func(d string) { writeAgent(t, d, "a", []byte("name = \"a\"\nbogus = 1"), wasmtest.Hello) },
		"invalid module": func(d string) { writeAgent(t, d, "a", manifest("a", "x"), wasmtest.Truncated) },
		"not a command":  func(d string) { writeAgent(t, d, "a", manifest("a", "x"), wasmtest.NoStart) },
		"timeout too long": func(d string) {
			writeAgent(t, d, "a", []byte("name = \"a\"\ndescription = \"x\"\n[limits]\ntimeout = \"1m\""), wasmtest.Hello)
		},
	} {
		dir := t.TempDir()
		write(dir)
		_, err := agentstore.Open(context.Background(), agentstore.Config{Dir: dir, Compiler: e, MaxTimeout: 5 * time.Second})
		if err == nil || !strings.Contains(err.Error(), `"a"`) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A withdrawn agent is not compiled at start: a broken one does not
	// keep the node from starting, and redeploying it reports the problem.
	dir := t.TempDir()
	writeAgent(t, dir, "a", manifest("a", "x"), wasmtest.Truncated)
	if err := os.WriteFile(filepath.Join(dir, "a", agentstore.WithdrawnFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, e)
	if _, _, err := s.Deploy(context.Background(), "a"); !errors.Is(err, wasm.ErrInvalidModule) {
		t.Fatalf("deploy broken withdrawn agent: %v", err)
	}
	if a, _ := s.Get("a"); a.Deployed {
		t.Fatal("broken agent deployed")
	}
}

func TestUploadWithdrawDeployAcrossRestarts(t *testing.T) {
	dir, e := t.TempDir(), newExecutor(t)
	ctx := context.Background()
	s := open(t, dir, e)
	a, changed, err := s.Upload(ctx, manifest("echo", "prints its arguments"), wasmtest.EchoArgs)
	if err != nil || !changed || !a.Deployed {
		t.Fatalf("upload: %+v %v %v", a, changed, err)
	}
	if out := run(t, e, s, "echo", "x"); out != "x\n" {
		t.Fatalf("output %q", out)
	}
	if _, changed, err := s.Upload(ctx, manifest("echo", "prints its arguments"), wasmtest.EchoArgs); err != nil || changed {
		t.Fatalf("identical upload: changed %v, %v", changed, err)
	}
	sum := sha256.Sum256(wasmtest.EchoArgs)
	if _, err := os.Stat(filepath.Join(dir, agentstore.ModulesDir, hex.EncodeToString(sum[:])+".wasm")); err != nil {
		t.Fatalf("module not stored content-addressed: %v", err)
	}

	// A new version replaces the old one, and the old module is collected.
	if _, changed, err := s.Upload(ctx, manifest("echo", "now says hello"), wasmtest.Hello); err != nil || !changed {
		t.Fatalf("upgrade: %v %v", changed, err)
	}
	if out := run(t, e, s, "echo"); !strings.Contains(out, "ello") {
		t.Fatalf("upgraded agent printed %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, agentstore.ModulesDir, hex.EncodeToString(sum[:])+".wasm")); !os.IsNotExist(err) {
		t.Fatalf("unused module kept: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "echo", agentstore.ModuleFile)); err != nil || string(b) != string(wasmtest.Hello) {
		t.Fatalf("agent.wasm on disk: %v", err)
	}

	if _, changed, err := s.Withdraw("echo"); err != nil || !changed {
		t.Fatalf("withdraw: %v %v", changed, err)
	}
	if _, changed, err := s.Withdraw("echo"); err != nil || changed {
		t.Fatalf("second withdraw: %v %v", changed, err)
	}
	if _, _, err := s.Withdraw("nobody"); !errors.Is(err, agentstore.ErrNotFound) {
		t.Fatalf("withdraw unknown: %v", err)
	}
	if _, err := s.ResolveAgent(ctx, "echo"); !errors.Is(err, enclave.ErrUnknownAgent) {
		t.Fatalf("withdrawn agent resolves: %v", err)
	}

	s = open(t, dir, e) // restart: still withdrawn
	if a, ok := s.Get("echo"); !ok || a.Deployed || len(s.Deployed()) != 0 {
		t.Fatalf("after restart: %+v", a)
	}
	if _, changed, err := s.Deploy(ctx, "echo"); err != nil || !changed {
		t.Fatalf("redeploy: %v %v", changed, err)
	}
	if _, changed, err := s.Deploy(ctx, "echo"); err != nil || changed {
		t.Fatalf("deploy deployed agent: %v %v", changed, err)
	}
	s = open(t, dir, e) // restart: deployed
	if got := names(s.Deployed()); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("after second restart: %v", got)
	}
}

func TestDeployByNamePicksUpCopiedAgent(t *testing.T) {
	dir, e := t.TempDir(), newExecutor(t)
	ctx := context.Background()
	s := open(t, dir, e)
	if _, _, err := s.Deploy(ctx, "cat"); !errors.Is(err, agentstore.ErrNotFound) {
		t.Fatalf("deploy of absent agent: %v", err)
	}
	if _, _, err := s.Deploy(ctx, "../etc"); !errors.Is(err, agentstore.ErrNotFound) {
		t.Fatalf("deploy of a path: %v", err)
	}
	writeAgent(t, dir, "cat", manifest("cat", "copies stdin"), wasmtest.Cat)
	a, changed, err := s.Deploy(ctx, "cat")
	if err != nil || !changed || a.ModuleSHA256 != sha256.Sum256(wasmtest.Cat) {
		t.Fatalf("deploy copied agent: %+v %v %v", a, changed, err)
	}
	// The operator edits the manifest in place: deploying again picks it up.
	writeAgent(t, dir, "cat", manifest("cat", "copies stdin to stdout"), nil)
	if a, changed, err := s.Deploy(ctx, "cat"); err != nil || !changed || a.Description != "copies stdin to stdout" {
		t.Fatalf("redeploy edited agent: %+v %v %v", a, changed, err)
	}
}

func TestBadUploadChangesNothing(t *testing.T) {
	dir, e := t.TempDir(), newExecutor(t)
	ctx := context.Background()
	s := open(t, dir, e)
	if _, _, err := s.Upload(ctx, manifest("echo", "v1"), wasmtest.EchoArgs); err != nil {
		t.Fatal(err)
	}
	before := listDir(t, dir)
	for name, c := range map[string]struct {
		toml, module []byte
		want         error
	}{
		"bad manifest":   {[]byte("name = \"echo\""), wasmtest.Hello, agentstore.ErrBadManifest},
		"invalid module": {manifest("echo", "v2"), wasmtest.Truncated, wasm.ErrInvalidModule},
		"unknown import": {manifest("echo", "v2"), wasmtest.UnknownImport, wasm.ErrInvalidModule},
		"oversized":      {manifest("echo", "v2"), wasmtest.Oversized(agentstore.DefaultMaxModuleBytes), wasm.ErrModuleTooLarge},
		"long timeout":   {[]byte("name = \"echo\"\ndescription = \"x\"\n[limits]\ntimeout = \"6s\""), wasmtest.Hello, agentstore.ErrBadManifest},
	} {
		if _, _, err := s.Upload(ctx, c.toml, c.module); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	if after := listDir(t, dir); !slices.Equal(before, after) {
		t.Fatalf("app_path changed:\n%v\n%v", before, after)
	}
	if a, _ := s.Get("echo"); a.Description != "v1" {
		t.Fatalf("agent changed: %+v", a)
	}
}

func TestTooManyAgents(t *testing.T) {
	dir, e := t.TempDir(), newExecutor(t)
	ctx := context.Background()
	s := open(t, dir, e)
	for i := range agentstore.MaxAgents {
		name := "a" + strings.Repeat("x", i)
		if _, _, err := s.Upload(ctx, manifest(name, "n"), wasmtest.Hello); err != nil {
			t.Fatalf("agent %d: %v", i, err)
		}
	}
	if _, _, err := s.Upload(ctx, manifest("one-more", "n"), wasmtest.Hello); !errors.Is(err, agentstore.ErrTooManyAgents) {
		t.Fatalf("agent past the cap: %v", err)
	}
	if _, _, err := s.Upload(ctx, manifest("a", "replaced"), wasmtest.Hello); err != nil {
		t.Fatalf("replacing an agent at the cap: %v", err)
	}
	if _, _, err := s.Withdraw("a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Upload(ctx, manifest("one-more", "n"), wasmtest.Hello); err != nil {
		t.Fatalf("agent after a withdrawal: %v", err)
	}
}

func TestOpenRecoversInterruptedDeploys(t *testing.T) {
	dir, e := t.TempDir(), newExecutor(t)
	// A crash after the old version moved aside, before the new one
	// arrived: the old one comes back.
	writeAgent(t, dir, ".old-echo-0123456789ab", manifest("echo", "old"), wasmtest.EchoArgs)
	// A crash after the new version arrived: the old copy goes.
	writeAgent(t, dir, "cat", manifest("cat", "new"), wasmtest.Cat)
	writeAgent(t, dir, ".old-cat-0123456789ab", manifest("cat", "old"), wasmtest.Cat)
	// A crash while staging: the staged directory goes.
	writeAgent(t, dir, ".tmp-123", manifest("x", "x"), wasmtest.Hello)
	s := open(t, dir, e)
	if got := names(s.Deployed()); !slices.Equal(got, []string{"cat", "echo"}) {
		t.Fatalf("deployed %v", got)
	}
	if a, _ := s.Get("cat"); a.Description != "new" {
		t.Fatalf("cat %+v", a)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"cat", "echo"}) {
		t.Fatalf("app_path %v", got)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.Name() != agentstore.ModulesDir {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestWriteAgentLaysOutWhatOpenLoads(t *testing.T) {
	dir, e := t.TempDir(), newExecutor(t)
	m := agentstore.Manifest{Name: "echo", Description: "prints its arguments", Tags: []string{"test"}, Price: 7}
	if err := agentstore.WriteAgent(dir, m, wasmtest.EchoArgs); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, "echo", agentstore.ModuleFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("module file: %v %v", info, err)
	}
	s := open(t, dir, e)
	a, ok := s.Get("echo")
	if !ok || !a.Deployed || a.ModuleSHA256 != sha256.Sum256(wasmtest.EchoArgs) || a.Manifest.Price != 7 {
		t.Fatalf("agent %+v", a)
	}
	if err := agentstore.WriteAgent(dir, agentstore.Manifest{Name: "../escape", Description: "x"}, wasmtest.EchoArgs); err == nil {
		t.Fatal("a manifest with a bad name was written")
	}
}

// BenchmarkResolveAgent measures what every agent request pays to find its
// compiled module: a 2 MiB module (the size of a Go agent), already compiled.
func BenchmarkResolveAgent(b *testing.B) {
	dir := b.TempDir()
	e, err := wasm.New(context.Background(), wasm.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close(context.Background()) })
	module := wasmtest.Oversized(2 << 20)
	if err := agentstore.WriteAgent(dir, agentstore.Manifest{Name: "big", Description: "a large module"}, module); err != nil {
		b.Fatal(err)
	}
	s, err := agentstore.Open(context.Background(), agentstore.Config{Dir: dir, Compiler: e})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.ResolveAgent(ctx, "big"); err != nil {
			b.Fatal(err)
		}
	}
}
