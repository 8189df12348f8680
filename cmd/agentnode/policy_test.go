package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/node/nodetest"
)

func TestPolicyCheckAndEval(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "payer.star")
	os.WriteFile(good, []byte(`
def decide(payment):
    if payment["requirements"]["amount"] > 50000:
        return {"allow": False, "reason": "over 0.05"}
    return True

def test_cheap():
    assert_true(decide({"requirements": {"amount": 10}}))
`), 0o644)
	if code, out, errOut := runCmd(t, "policy", "check", good); code != 0 || !strings.Contains(out, "1 passed") {
		t.Fatalf("check: %d %q %q", code, out, errOut)
	}
	failing := filepath.Join(dir, "failing.star")
	os.WriteFile(failing, []byte("def decide(payment):\n    return True\n\ndef test_bad():\n    assert_eq(1, 2)\n"), 0o644)
	if code, out, _ := runCmd(t, "policy", "check", failing); code != 1 || !strings.Contains(out, "1 failed") {
		t.Fatalf("failing test: %d %q", code, out)
	}
	broken := filepath.Join(dir, "broken.star")
	os.WriteFile(broken, []byte("def decide(payment)\n"), 0o644)
	if code, _, errOut := runCmd(t, "policy", "check", broken); code != 1 || !strings.Contains(errOut, "broken.star:") {
		t.Fatalf("syntax error: %d %q", code, errOut)
	}
	req := `{"scheme":"exact","network":"eip155:1337","amount":"100000","asset":"0x0000000000000000000000000000000000000001","payTo":"0x0000000000000000000000000000000000000002","maxTimeoutSeconds":60}`
	if code, out, errOut := runCmd(t, "policy", "eval", good, "--requirements", req); code != 0 || !strings.HasPrefix(out, "deny: over 0.05") {
		t.Fatalf("eval expensive: %d %q %q", code, out, errOut)
	}
	cheap := strings.Replace(req, "100000", "10000", 1)
	if code, out, _ := runCmd(t, "policy", "eval", good, "--requirements", cheap, "--json"); code != 0 || !strings.Contains(out, `"allow":true`) {
		t.Fatalf("eval cheap: %d %q", code, out)
	}
	if code, _, _ := runCmd(t, "policy", "eval", good); code != 2 {
		t.Fatalf("eval without requirements: %d", code)
	}
	if code, _, _ := runCmd(t, "policy"); code != 2 {
		t.Fatalf("bare policy: %d", code)
	}
}

func TestExecScript(t *testing.T) {
	n := nodetest.Start(t, nil)
	p := filepath.Join(t.TempDir(), "s.star")
	os.WriteFile(p, []byte("def main(args):\n    return \"hi \" + \" \".join(args)\n"), 0o644)
	code, out, errOut := runCmd(t, "exec", "--node", n.BridgeURL(), "--allow-sim", "--script", p, "--arg", "there")
	if code != 0 || out != "hi there" {
		t.Fatalf("exec --script: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, "exec", "--node", n.BridgeURL(), "--allow-sim", "--script", p, "--wasm", p); code != 1 || !strings.Contains(errOut, "one of") {
		t.Fatalf("two inputs: %d %q", code, errOut)
	}
}
