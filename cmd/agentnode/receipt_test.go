package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/attesttest"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/bridge"
	"github.com/agentnet/agentnode/node/nodetest"
)

// startTEEBridge serves the real enclave and bridge over attester on a
// loopback port and returns the bridge URL: a node on a fake-root TDX or
// SNP guest, for the client-side commands.
func startTEEBridge(t testing.TB, a attest.Attester) string {
	t.Helper()
	ctx := context.Background()
	id, err := enclave.LoadOrCreateIdentity(filepath.Join(t.TempDir(), "identity.key"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close(ctx) })
	enc, err := enclave.New(enclave.Config{Identity: id, Attester: a, Executor: ex})
	if err != nil {
		t.Fatal(err)
	}
	br, err := bridge.New(bridge.Config{
		Enclave:  enc,
		NodeInfo: func() api.NodeInfo { return api.NodeInfo{PeerID: id.PeerID().String(), Platform: string(a.Platform())} },
		Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(br.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// teeGuest is a fake-root guest of one platform with what a client needs
// to trust it.
type teeGuest struct {
	platform string
	url      string
	roots    string // --roots file
	pin      string // policy pinning the guest's measurement
	otherPin string // policy pinning another measurement
}

func teeGuests(t testing.TB) []teeGuest {
	t.Helper()
	tg, sg := newFakeTDX(t, 0x11), newFakeSNP(t, 0x22)
	return []teeGuest{
		{"tdx", startTEEBridge(t, attesttest.NewTDXAttester(tg.root, tg.opts)), tg.roots,
			writeFile(t, "pin.toml", []byte(`tdx.mrtd = ["`+strings.Repeat("11", 48)+`"]`)),
			writeFile(t, "other.toml", []byte(`tdx.mrtd = ["`+strings.Repeat("12", 48)+`"]`))},
		{"snp", startTEEBridge(t, attesttest.NewSNPAttester(sg.signer, sg.opts)), sg.roots,
			writeFile(t, "pin.toml", []byte(`snp.measurement = ["`+strings.Repeat("22", 48)+`"]`)),
			writeFile(t, "other.toml", []byte(`snp.measurement = ["`+strings.Repeat("23", 48)+`"]`))},
	}
}

func TestExecPolicyAndRootsOnTEE(t *testing.T) {
	echo := writeModule(t, wasmtest.EchoArgs)
	for _, g := range teeGuests(t) {
		t.Run(g.platform, func(t *testing.T) {
			code, out, errOut := runCmd(t, "exec", "--node", g.url, "--roots", g.roots, "--wasm", echo, "--arg", "hi")
			if code != 0 || out != "hi\n" || !strings.Contains(errOut, "measurement: unpinned") || !strings.Contains(errOut, "genuine "+g.platform) {
				t.Fatalf("unpinned: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			code, out, errOut = runCmd(t, "exec", "--node", g.url, "--roots", g.roots, "--policy", g.pin, "--wasm", echo, "--arg", "hi")
			if code != 0 || out != "hi\n" || errOut != "" {
				t.Fatalf("pinned: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			code, out, errOut = runCmd(t, "exec", "--node", g.url, "--roots", g.roots, "--policy", g.otherPin, "--wasm", echo, "--arg", "hi")
			oneLineFailure(t, code, out, errOut, "measurement not allowed by policy")
			// The vendor roots refuse the fake chain.
			code, out, errOut = runCmd(t, "exec", "--node", g.url, "--wasm", echo, "--arg", "hi")
			oneLineFailure(t, code, out, errOut, "quote signature does not verify")
			code, out, errOut = runCmd(t, "exec", "--node", g.url, "--policy", filepath.Join(t.TempDir(), "none"), "--wasm", echo)
			oneLineFailure(t, code, out, errOut, "load policy")
		})
	}
}

// saveReceipt runs exec --json and saves its receipt.
func saveReceipt(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCmd(t, append([]string{"exec", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("exec --json: exit %d: %s", code, errOut)
	}
	return writeFile(t, "receipt.json", []byte(out))
}

func TestReceiptVerifyOnTEE(t *testing.T) {
	echo := writeModule(t, wasmtest.EchoArgs)
	for _, g := range teeGuests(t) {
		t.Run(g.platform, func(t *testing.T) {
			rc := saveReceipt(t, "--node", g.url, "--roots", g.roots, "--attest-result", "--wasm", echo, "--arg", "audit", "--arg", "me")
			code, out, errOut := runCmd(t, "receipt", "verify", rc, "--roots", g.roots)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, want := range []string{"receipt verified", "platform:     " + g.platform, "2 args", "9 bytes of output",
				"result:       fresh " + g.platform + " evidence bound to the commitment", "payment:      none", "\nmeasurement: unpinned\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			// Flags before the file, a pinning policy, JSON.
			code, out, errOut = runCmd(t, "receipt", "verify", "--roots", g.roots, "--policy", g.pin, "--json", rc)
			var v struct {
				Verified       bool
				ResultEvidence bool `json:"result_evidence"`
				Claims         struct {
					Platform     string
					Measurements map[string]string
					Notes        []string
				}
			}
			if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil {
				t.Fatalf("--json: exit %d, %v: %s%s", code, err, out, errOut)
			}
			if !v.Verified || !v.ResultEvidence || v.Claims.Platform != g.platform || strings.Contains(strings.Join(v.Claims.Notes, ","), "unpinned") {
				t.Errorf("--json = %+v", v)
			}
			code, out, errOut = runCmd(t, "receipt", "verify", rc, "--roots", g.roots, "--policy", g.otherPin)
			oneLineFailure(t, code, out, errOut, "verify session evidence", "measurement not allowed by policy")
			code, out, errOut = runCmd(t, "receipt", "verify", rc)
			oneLineFailure(t, code, out, errOut, "quote signature does not verify")
		})
	}
}

// mutate rewrites one field of a saved receipt.
func mutate(t *testing.T, path string, f func(map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "mutated.json", out)
}

// flipHex flips the lowest bit of the byte at off (negative: from the end)
// of a hex string.
func flipHex(s string, off int) string {
	b, _ := hex.DecodeString(s)
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 1
	return hex.EncodeToString(b)
}

func TestReceiptVerifyRejectsTampering(t *testing.T) {
	g := teeGuests(t)[0]
	rc := saveReceipt(t, "--node", g.url, "--roots", g.roots, "--attest-result", "--wasm", writeModule(t, wasmtest.EchoArgs), "--arg", "pay", "--arg", "me")
	session := func(m map[string]any) map[string]any { return m["session"].(map[string]any) }
	for _, tc := range []struct {
		name string
		f    func(map[string]any)
		want string
	}{
		{"other output", func(m map[string]any) {
			m["output"], m["output_base64"] = "paid\n", base64.StdEncoding.EncodeToString([]byte("paid\n"))
		}, "commitment does not match"},
		{"output text differs from the committed output", func(m map[string]any) { m["output"] = "paid\n" }, "field output differs"},
		{"other args", func(m map[string]any) { m["args"] = []string{"pay", "you"} }, "commitment does not match"},
		{"other exit code", func(m map[string]any) { m["exit_code"] = 1 }, "commitment does not match"},
		{"other salt", func(m map[string]any) { m["salt"] = flipHex(m["salt"].(string), 0) }, "commitment does not match"},
		{"other module", func(m map[string]any) { m["module_sha256"] = flipHex(m["module_sha256"].(string), 0) }, "commitment does not match"},
		{"flipped signature", func(m map[string]any) { m["signature"] = flipHex(m["signature"].(string), 3) }, "signature"},
		{"other nonce", func(m map[string]any) { session(m)["nonce"] = flipHex(session(m)["nonce"].(string), 0) }, "report data does not match"},
		{"other session key", func(m map[string]any) {
			session(m)["session_pubkey"] = flipHex(session(m)["session_pubkey"].(string), 0)
		}, "report data does not match"},
		{"other client key", func(m map[string]any) {
			session(m)["client_pubkey"] = flipHex(session(m)["client_pubkey"].(string), 0)
		}, "report data does not match"},
		{"flipped quote signature", func(m map[string]any) { session(m)["quote"] = flipHex(session(m)["quote"].(string), 0x27C+5) }, "quote signature does not verify"},
		{"flipped result quote", func(m map[string]any) { m["result_quote"] = flipHex(m["result_quote"].(string), 0x27C+5) }, "verify result evidence"},
		{"session quote as result quote", func(m map[string]any) { m["result_quote"] = session(m)["quote"] }, "report data does not match"},
		{"other peer id", func(m map[string]any) { m["peer_id"] = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo" }, "peer id"},
		{"other platform", func(m map[string]any) { m["platform"] = "snp" }, "verify session evidence"},
		{"sim platform", func(m map[string]any) { m["platform"] = "sim" }, "simulated TEE"},
		{"claims copy disagrees", func(m map[string]any) {
			m["claims"].(map[string]any)["measurements"].(map[string]any)["mrtd"] = strings.Repeat("12", 48)
		}, "field claims differs"},
		{"unknown field", func(m map[string]any) { m["settled"] = true }, "unknown field"},
		{"malformed hex", func(m map[string]any) { m["commitment"] = "zz" }, "commitment: malformed"},
		{"no quote", func(m map[string]any) { session(m)["quote"] = "" }, "empty quote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, "receipt", "verify", mutate(t, rc, tc.f), "--roots", g.roots)
			oneLineFailure(t, code, out, errOut, tc.want)
		})
	}
	// Removing per-result evidence leaves a valid receipt that says so.
	code, out, errOut := runCmd(t, "receipt", "verify", mutate(t, rc, func(m map[string]any) { delete(m, "result_quote") }), "--roots", g.roots)
	if code != 0 || !strings.Contains(out, "no per-result evidence") {
		t.Fatalf("without result evidence: exit %d: %s%s", code, out, errOut)
	}
}

func TestReceiptVerifySim(t *testing.T) {
	n := nodetest.Start(t, nil)
	rc := saveReceipt(t, "--node", n.BridgeURL(), "--allow-sim", "--wasm", writeModule(t, wasmtest.EchoArgs), "--arg", "x")
	code, out, errOut := runCmd(t, "receipt", "verify", rc)
	oneLineFailure(t, code, out, errOut, "simulated TEE", "--allow-sim")
	if code, out, errOut := runCmd(t, "receipt", "verify", "--allow-sim", rc); code != 0 || !strings.Contains(out, "platform:     sim") {
		t.Fatalf("--allow-sim: exit %d: %s%s", code, out, errOut)
	}
	devPolicy := writeFile(t, "dev.toml", []byte("accept_sim = true\n"))
	if code, _, errOut := runCmd(t, "receipt", "verify", rc, "--policy", devPolicy); code != 0 {
		t.Fatalf("accept_sim policy: exit %d: %s", code, errOut)
	}
}

func TestReceiptUsageAndBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"receipt"}, 2, "usage"},
		{[]string{"receipt", "check"}, 2, "unknown subcommand"},
		{[]string{"receipt", "verify"}, 2, "usage"},
		{[]string{"receipt", "verify", "a", "b"}, 2, "usage"},
		{[]string{"receipt", "verify", "--no-such-flag", "a"}, 2, "not defined"},
		{[]string{"receipt", "verify", filepath.Join(t.TempDir(), "none")}, 1, "no such file"},
		{[]string{"receipt", "verify", writeFile(t, "r", []byte("{"))}, 1, "decode receipt"},
		{[]string{"receipt", "verify", writeFile(t, "r", []byte("{} {}"))}, 1, "data after"},
		{[]string{"receipt", "verify", writeFile(t, "r", []byte("{}"))}, 1, "malformed"},
	} {
		code, out, errOut := runCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", tc.args[1:], code, out, errOut, tc.code, tc.want)
		}
	}
	if code, out, _ := runCmd(t, "receipt", "help"); code != 0 || !strings.Contains(out, "verify") {
		t.Errorf("receipt help: %d %q", code, out)
	}
	if code, _, _ := runCmd(t, "receipt", "verify", "-h"); code != 0 {
		t.Errorf("receipt verify -h: exit %d", code)
	}
}

func FuzzDecodeReceipt(f *testing.F) {
	f.Add([]byte(`{"output":"x\n","output_base64":"eAo=","exit_code":0,"args":[],"session":{"quote":"00"}}`))
	f.Add([]byte(`{"claims":{"platform":"tdx","measurements":{"mrtd":"zz"}}}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rc, err := decodeReceipt(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same receipt.
		again, err := json.Marshal(rc)
		if err != nil {
			t.Fatal(err)
		}
		rc2, err := decodeReceipt(again)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, again)
		}
		if b2, _ := json.Marshal(rc2); !bytes.Equal(again, b2) {
			t.Fatalf("round trip changed the receipt:\n%s\n%s", again, b2)
		}
	})
}

func BenchmarkReceiptVerify(b *testing.B) {
	tg := newFakeTDX(b, 0x11)
	url := startTEEBridge(b, attesttest.NewTDXAttester(tg.root, tg.opts))
	var out bytes.Buffer
	ctx := context.Background()
	if code := run(ctx, []string{"exec", "--json", "--node", url, "--roots", tg.roots, "--attest-result", "--wasm", writeFile(b, "m.wasm", wasmtest.EchoArgs), "--arg", "x"}, &out, io.Discard); code != 0 {
		b.Fatalf("exec: exit %d", code)
	}
	rc := writeFile(b, "receipt.json", out.Bytes())
	args := []string{"receipt", "verify", rc, "--roots", tg.roots}
	for b.Loop() {
		if code := run(ctx, args, io.Discard, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
