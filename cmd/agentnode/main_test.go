package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/nodetest"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeModule(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecPrintsDecryptedOutput(t *testing.T) {
	n := nodetest.Start(t, nil)
	echo := writeModule(t, wasmtest.EchoArgs)
	code, out, errOut := runCmd(t, "exec", "--node", n.BridgeURL(), "--allow-sim", "--wasm", echo, "--arg", "hello", "--arg", "world")
	if code != 0 || out != "hello world\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, "exec", "--node", n.BridgeURL(), "--allow-sim", "--suite", "mlkem768x25519", "--wasm", echo, "--arg", "pq")
	if code != 0 || out != "pq\n" {
		t.Fatalf("hybrid suite: exit %d, stdout %q", code, out)
	}
}

func TestExecJSONReceipt(t *testing.T) {
	n := nodetest.Start(t, nil)
	code, out, errOut := runCmd(t, "exec", "--node", n.BridgeURL(), "--allow-sim", "--json", "--wasm", writeModule(t, wasmtest.EchoArgs), "--arg", "x")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rc map[string]any
	if err := json.Unmarshal([]byte(out), &rc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"output", "exit_code", "commitment", "signature", "session_id", "platform", "verified"} {
		if _, ok := rc[k]; !ok {
			t.Errorf("receipt lacks %q", k)
		}
	}
	if rc["verified"] != true || rc["platform"] != "sim" || rc["output"] != "x\n" {
		t.Fatalf("receipt %v", rc)
	}
}

func TestExecRefusesSimWithoutFlag(t *testing.T) {
	n := nodetest.Start(t, nil)
	code, out, errOut := runCmd(t, "exec", "--node", n.BridgeURL(), "--wasm", writeModule(t, wasmtest.Hello))
	if code == 0 || out != "" || !strings.Contains(errOut, "simulated TEE") || !strings.Contains(errOut, "--allow-sim") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestExecHostileModulesExitNonZeroWithOneLine(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.WasmTimeout = node.Duration{Duration: 300 * time.Millisecond} })
	for name, m := range map[string][]byte{
		"infinite loop": wasmtest.InfiniteLoop, "memory": wasmtest.MemoryGrow, "recursion": wasmtest.DeepRecursion,
		"stdout": wasmtest.HugeStdout, "import": wasmtest.UnknownImport, "truncated": wasmtest.Truncated,
	} {
		code, out, errOut := runCmd(t, "exec", "--node", n.BridgeURL(), "--allow-sim", "--wasm", writeModule(t, m))
		if code == 0 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || errOut == "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", name, code, out, errOut)
		}
	}
	code, _, errOut := runCmd(t, "exec", "--node", n.BridgeURL(), "--allow-sim", "--wasm", writeModule(t, wasmtest.Exit), "--arg", "7")
	if code != 7 || !strings.Contains(errOut, "status 7") {
		t.Fatalf("exit module: code %d, stderr %q", code, errOut)
	}
}

func TestDevServesHealth(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw, _ := os.Pipe()
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"dev", "--http", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "error"}, pw, &errb)
	}()
	buf := make([]byte, 4096)
	nr, _ := pr.Read(buf)
	m := regexp.MustCompile(`bridge:\s+(http://\S+)`).FindSubmatch(buf[:nr])
	if m == nil {
		t.Fatalf("dev printed no bridge URL: %s %s", buf[:nr], errb.String())
	}
	resp, err := http.Get(string(m[1]) + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("dev exited %d: %s", code, errb.String())
	}
}

func TestUsageAndUnknownCommand(t *testing.T) {
	if code, out, _ := runCmd(t); code != 0 || !strings.Contains(out, "exec") {
		t.Fatalf("usage: %d %q", code, out)
	}
	if code, _, errOut := runCmd(t, "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errOut)
	}
	if code, _, _ := runCmd(t, "exec", "--no-such-flag"); code != 2 {
		t.Fatalf("bad flag: %d", code)
	}
	if code, out, _ := runCmd(t, "version"); code != 0 || !strings.HasPrefix(out, "agentnode ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestKeygen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "id.key")
	if code, out, errOut := runCmd(t, "keygen", "--out", p); code != 0 || !strings.Contains(out, "12D3Koo") {
		t.Fatalf("keygen: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, "keygen", "--out", p); code != 1 || !strings.Contains(errOut, "refusing") {
		t.Fatalf("keygen over an existing key: %d %q", code, errOut)
	}
}
