package node_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
)

// spinChildEnv turns TestSpinChild into the node process of
// TestSpinningGuestDoesNotStarveBridge; its value is the node's data dir.
const spinChildEnv = "AGENTNODE_TEST_SPIN_CHILD"

// TestSpinningGuestDoesNotStarveBridge is the must-show on
// scheduling: a node whose Go runtime has one processor (GOMAXPROCS=1, set
// in the environment of a process of its own, so that nothing else in the
// test binary runs on a second one) answers GET /healthz within a fraction
// of a second while a guest spins for three seconds. wazero's compiled code
// is never preempted by Go; without the meter's yields the bridge would
// answer only when the guest stops.
func TestSpinningGuestDoesNotStarveBridge(t *testing.T) {
	const spin = 3 * time.Second
	dir := t.TempDir()
	m := agentstore.Manifest{Name: "spin", Description: "spins until its deadline"}
	m.Limits.Timeout.Duration = spin
	writeAgent(t, filepath.Join(dir, "agents"), m, wasmtest.InfiniteLoop)

	cmd := exec.Command(os.Args[0], "-test.run=^TestSpinChild$", "-test.v", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", spinChildEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := bufio.NewScanner(stdout)
	url := ""
	for url == "" && lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "BRIDGE "); ok {
			url = u
		}
	}
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // the child closes its node and exits
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("node process: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("node process did not exit\n%s", stderr.String())
		}
	})
	if url == "" {
		t.Fatalf("node process printed no bridge URL\n%s", stderr.String())
	}

	ctx := context.Background()
	c := nodetest.Client(t, url)
	session, err := c.OpenSession(ctx) // beforehand, so the guest starts at once
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := c.ExecIn(ctx, session, client.ExecInput{Agent: "spin"})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // the guest is spinning by now
	hc := &http.Client{Timeout: 10 * time.Second}
	var polls int
	var worst time.Duration
	for {
		select {
		case err := <-done:
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != api.CodeTimeout {
				t.Fatalf("spinning agent: %v, want %s", err, api.CodeTimeout)
			}
			if took := time.Since(start); took < spin {
				t.Fatalf("the guest stopped after %v, before its %v deadline", took, spin)
			}
			if polls < 10 || worst > time.Second {
				t.Fatalf("%d health checks answered while the guest spun, the slowest in %v: the bridge was starved", polls, worst)
			}
			t.Logf("%d health checks while the guest spun for %v, the slowest answered in %v", polls, spin, worst)
			return
		default:
		}
		t0 := time.Now()
		resp, err := hc.Get(url + "/healthz")
		if err != nil {
			t.Fatalf("healthz: %v", err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %s", resp.Status)
		}
		if d := time.Since(t0); time.Since(start) < spin-200*time.Millisecond { // answered while it spun
			polls++
			worst = max(worst, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSpinChild is the node process of TestSpinningGuestDoesNotStarveBridge
// and is skipped otherwise: it serves a node from the given data dir with
// one Go processor until its stdin closes.
func TestSpinChild(t *testing.T) {
	dir := os.Getenv(spinChildEnv)
	if dir == "" {
		t.Skip("the node process of TestSpinningGuestDoesNotStarveBridge")
	}
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Fatalf("GOMAXPROCS is %d, want 1", n)
	}
	off := false
	n := nodetest.Start(t, func(c *node.Config) { c.DataDir, c.P2P = dir, &off })
	fmt.Printf("BRIDGE %s\n", n.BridgeURL())
	_, _ = io.Copy(io.Discard, os.Stdin)
}
