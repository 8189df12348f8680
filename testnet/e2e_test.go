package testnet_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentnet/agentnode/testnet"
)

// The end-to-end tests build the agentnode binary (without the race
// detector) and run `agentnode testnet` as a user would, with the real demo
// agents, compiled once into a cache the tests share.

var (
	buildOnce sync.Once
	buildDir  string
	binary    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// agentnodeBinary builds cmd/agentnode once per test binary.
func agentnodeBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the agentnode binary and runs testnets")
	}
	buildOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("the end-to-end tests build agentnode and need the go command: %w", err)
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "agentnode-e2e-"); buildErr != nil {
			return
		}
		binary = filepath.Join(buildDir, "agentnode")
		cmd := exec.Command(gobin, "build", "-o", binary, "github.com/agentnet/agentnode/cmd/agentnode")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// run runs agentnode with args to its end and returns its exit code and
// output.
func run(t *testing.T, timeout time.Duration, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	bin := agentnodeBinary(t)
	if len(args) > 0 && args[0] == "testnet" {
		args = append([]string{"testnet", "--cache", filepath.Join(buildDir, "cache")}, args[1:]...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit) && ctx.Err() == nil:
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("agentnode %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	return 0, "", ""
}

var steps = []string{"1. search", "2. paid call", "3. verify receipt", "4. settlement", "scenario passed"}

// TestCommandScenario is `agentnode testnet --nodes 5 --scenario`: the
// network starts, node 0 finds arxiv on another node, pays for a call,
// and the receipt verifies down to its settlement on chain; the command
// then stops everything and exits 0.
func TestCommandScenario(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, 5*time.Minute, "testnet", "--nodes", "5", "--base-port", "0", "--scenario",
		"--searches", "10", "--calls", "10", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("output:\n%s", out)
	for _, want := range append(steps, "5 nodes (in one process) ready in", "best match on another node: arxiv on node-01",
		`"5 of 7 matching papers (catalogue of 216) for \"arxiv papers about attention\""`, "10 searches from random nodes", "10 paid calls of arxiv",
		"Status page: http://127.0.0.1:", "stopped; the data stays in "+dir) {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^node-0[0-4]  12D3KooW\w+  http://127\.0\.0\.1:\d+  \w+ \(\d+\)`).FindAllString(out, -1)); n != 5 {
		t.Errorf("the node table has %d rows, want 5", n)
	}
	var info struct {
		Nodes []testnet.NodeInfo `json:"nodes"`
	}
	readJSON(t, filepath.Join(dir, testnet.InfoJSON), &info)
	if len(info.Nodes) != 5 || info.Nodes[1].Agents[0] != "arxiv" {
		t.Errorf("testnet.json: %+v", info.Nodes)
	}
}

// TestCommandScenarioFails: a scenario that cannot pass exits non-zero
// and says why (one node has no other node to call); so do bad flags,
// before anything starts.
func TestCommandScenarioFails(t *testing.T) {
	code, out, errOut := run(t, 3*time.Minute, "testnet", "--nodes", "1", "--base-port", "0", "--scenario", "--data", t.TempDir())
	if code == 0 || !strings.Contains(errOut, "scenario failed") || !strings.Contains(errOut, "at least 2 nodes") || !strings.Contains(out, "stopped") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nodes", "0"}, "--nodes 0"},
		{[]string{"--nodes", "101"}, "--nodes 101"},
		{[]string{"--stay"}, "--stay"},
		{[]string{"--base-port", "80"}, "base port"},
		{[]string{"--log-level", "loud"}, "log level"},
	} {
		code, _, errOut := run(t, time.Minute, append([]string{"testnet", "--data", t.TempDir()}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("testnet %v: exit %d, stderr %q", tc.args, code, errOut)
		}
	}
}

// TestCommandProcesses: with --processes every node is its own `agentnode
// run`, configured by a file in its directory; the scenario passes the
// same way, and no node process outlives the command.
func TestCommandProcesses(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, 5*time.Minute, "testnet", "--nodes", "3", "--base-port", "0", "--processes", "--scenario",
		"--searches", "3", "--calls", "3", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range append(steps, "3 nodes (one process each)") {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var info struct {
		Nodes []testnet.NodeInfo `json:"nodes"`
	}
	readJSON(t, filepath.Join(dir, testnet.InfoJSON), &info)
	for _, n := range info.Nodes {
		if n.PID <= 0 {
			t.Errorf("%s: pid %d", n.Name, n.PID)
			continue
		}
		if err := syscall.Kill(n.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s: process %d still there after the command (%v)", n.Name, n.PID, err)
		}
		cfg, err := os.ReadFile(filepath.Join(n.DataDir, "node.toml"))
		if err != nil || !strings.Contains(string(cfg), `tee = "sim"`) || !strings.Contains(string(cfg), "payer_key_file") {
			t.Errorf("%s: node.toml %v\n%s", n.Name, err, cfg)
		}
		if log, err := os.ReadFile(filepath.Join(n.DataDir, "node.log")); err != nil || !strings.Contains(string(log), "stopping") {
			t.Errorf("%s: node.log %v: %s", n.Name, err, log)
		}
	}
}

// TestStatusPageInChromium runs a testnet that stays after its scenario,
// opens node 0's status page in headless Chromium, checks the DOM shows
// every node and a settled payment with its transaction hash, takes a
// screenshot, then stops the testnet with SIGINT (Ctrl-C).
func TestStatusPageInChromium(t *testing.T) {
	browser := chromium(t)
	bin := agentnodeBinary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "testnet", "--cache", filepath.Join(buildDir, "cache"), "--nodes", "3", "--base-port", "0", "--scenario", "--stay", "--searches", "2", "--calls", "2", "--data", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		out strings.Builder
	)
	lines := make(chan string, 256)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			mu.Lock()
			out.WriteString(s.Text() + "\n")
			mu.Unlock()
			select {
			case lines <- s.Text():
			default:
			}
		}
		close(lines)
	}()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }

	var page string
	deadline := time.After(4 * time.Minute)
wait:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the testnet ended early: %v\nstdout:\n%s\nstderr:\n%s", cmd.Wait(), output(), stderr.String())
			}
			if u, ok := strings.CutPrefix(line, "Status page: "); ok {
				page, _, _ = strings.Cut(u, " ")
			}
			if line == "scenario passed" {
				break wait
			}
		case <-deadline:
			t.Fatalf("no scenario result in time\nstdout:\n%s\nstderr:\n%s", output(), stderr.String())
		}
	}
	if !strings.HasPrefix(page, "http://127.0.0.1:") {
		t.Fatalf("no status page URL in the output:\n%s", output())
	}

	dom := headless(t, browser, "--dump-dom", page)
	for _, want := range []string{`<b id="count-nodes">3</b>`, "node-00", "node-01", "node-02", "arxiv", "notary", "textstats",
		`<span class="settled">settled</span>`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %q", want)
		}
	}
	if !regexp.MustCompile(`<b id="count-payments">[1-9]\d*</b>`).MatchString(dom) {
		t.Error("the DOM shows no settled payment")
	}
	if !regexp.MustCompile(`settled</span> 0x[0-9a-f]{64}`).MatchString(dom) {
		t.Error("the DOM shows no transaction hash")
	}
	if n := strings.Count(dom, `<tr class="node"`); n != 3 {
		t.Errorf("the DOM shows %d node rows, want 3", n)
	}

	shot := filepath.Join(t.TempDir(), "status.png")
	headless(t, browser, "--screenshot="+shot, "--window-size=1400,1100", page)
	checkScreenshot(t, shot, 1400, 1100)
	if keep := os.Getenv("AGENTNODE_SCREENSHOT"); keep != "" {
		if b, err := os.ReadFile(shot); err == nil {
			_ = os.WriteFile(keep, b, 0o644)
		}
	}

	// Ctrl-C: everything stops, cleanly.
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		for range lines {
		}
		if err != nil || !strings.Contains(output(), "stopped; the data stays in "+dir) {
			t.Fatalf("after SIGINT: %v\nstdout:\n%s\nstderr:\n%s", err, output(), stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the testnet did not stop within a minute of SIGINT\n%s", output())
	}
}

// chromium returns the headless browser, or skips the test where there is
// none; in CI (.ci/run installs it) a missing browser fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: .ci/run installs it (apt-get install -y chromium)")
	}
	t.Skip("chromium not found: the status page's browser test needs it (apt-get install -y chromium)")
	return ""
}

// headless runs the browser on one page with a fresh profile and the
// flags a machine without network needs, and returns what it printed.
func headless(t *testing.T, browser string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", browser, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// checkScreenshot requires a PNG of the window's size that shows a page,
// not a blank or an error: many colours, and ink on a good part of it.
func checkScreenshot(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(io.Reader(f))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	if b.Dx() != w || b.Dy() != h {
		t.Errorf("screenshot %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	colours := map[uint32]bool{}
	ink := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[(r>>11)<<10|(g>>11)<<5|bl>>11] = true
			if r < 0xc000 || g < 0xc000 || bl < 0xc000 {
				ink++
			}
		}
	}
	total := (b.Dx() / 2) * (b.Dy() / 2)
	if len(colours) < 40 || ink < total/50 {
		t.Errorf("the screenshot looks empty: %d colours, %d of %d pixels inked", len(colours), ink, total)
	}
}
