package enclave_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/script"
)

func TestScriptRoundTrip(t *testing.T) {
	h := newHarness(t, nil)
	c := h.open(t, seal.X25519)
	src := "def main(args):\n    print(\"seen\", len(args))\n    return {\"joined\": \"-\".join(args), \"n\": len(args)}\n"
	rid := newID()
	job, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, c.sealRequest(t, rid, enclave.ExecPayload{Script: src, Args: []string{"a", "b"}}))
	if err != nil {
		t.Fatal(err)
	}
	if job.Kind() != enclave.KindScript || job.ModuleHash() != sha256.Sum256([]byte(src)) {
		t.Fatalf("kind %s hash %x", job.Kind(), job.ModuleHash())
	}
	r, err := h.enc.Run(context.Background(), job, enclave.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := seal.Open(c.key, []byte(enclave.InfoResult), enclave.MessageAAD(c.info.ID, rid), r.SealedResult)
	if err != nil {
		t.Fatal(err)
	}
	var res enclave.ResultPayload
	json.Unmarshal(pt, &res)
	var got map[string]any
	if err := json.Unmarshal(res.Output, &got); err != nil || got["joined"] != "a-b" || got["n"] != float64(2) {
		t.Fatalf("output %s: %v", res.Output, err)
	}
	if res.Fuel == 0 || !strings.Contains(string(res.Stderr), "seen 2") {
		t.Fatalf("fuel %d, print output %q", res.Fuel, res.Stderr)
	}
	tr := enclave.Transcript{SessionID: c.info.ID, RequestID: rid, ModuleHash: sha256.Sum256([]byte(src)), Args: []string{"a", "b"},
		Output: res.Output, Fuel: res.Fuel}
	copy(tr.Salt[:], res.Salt)
	if tr.Commitment() != r.Commitment {
		t.Fatal("script commitment does not open")
	}
}

func TestHostileScriptsStopWithinLimits(t *testing.T) {
	h := newHarness(t, func(c *enclave.Config) { c.ScriptLimits = script.Limits{Timeout: time.Second} })
	c := h.open(t, seal.X25519)
	for name, tc := range map[string]struct {
		src  string
		kind error
	}{
		"infinite loop":   {"def main(args):\n    for i in range(1000000000000):\n        pass\n", script.ErrSteps},
		"recursion":       {"def f(n):\n    return f(n+1)\ndef main(args):\n    return f(0)\n", script.ErrRecursion},
		"huge allocation": {"def main(args):\n    return [0] * 1000000000\n", nil},
		"syntax error":    {"def main(args)\n    return 1\n", script.ErrSyntax},
		"runtime error":   {"def main(args):\n    return {}[\"missing\"]\n", script.ErrRuntime},
	} {
		rid := newID()
		job, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, c.sealRequest(t, rid, enclave.ExecPayload{Script: tc.src}))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = h.enc.Run(context.Background(), job, enclave.RunOptions{})
		if !errors.Is(err, enclave.ErrScript) || (tc.kind != nil && !errors.Is(err, tc.kind)) {
			t.Errorf("%s: err = %v", name, err)
		}
		if !strings.Contains(err.Error(), "policy.star:") {
			t.Errorf("%s: error %q names no file:line", name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s ran %v", name, d)
		}
	}
	rid := newID()
	if _, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, c.sealRequest(t, rid, enclave.ExecPayload{Script: "def main(a): return 1", Stdin: []byte("x")})); !errors.Is(err, enclave.ErrBadRequest) {
		t.Fatalf("script with stdin: %v", err)
	}
}
