package client_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
)

func TestDefaultPolicyRefusesSim(t *testing.T) {
	n := nodetest.Start(t, nil)
	c, err := client.New(client.Config{NodeURL: n.BridgeURL(), Verifiers: nodetest.Verifiers()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.Hello})
	if !errors.Is(err, attest.ErrPlatformNotAllowed) || !strings.Contains(err.Error(), "--allow-sim") {
		t.Fatalf("err = %v, want a refusal of the simulated TEE naming --allow-sim", err)
	}
}

// mitm forwards to the node and lets a test rewrite JSON answers of one
// path: an attacker between client and node.
func mitm(t *testing.T, target, path string, rewrite func(map[string]any)) string {
	t.Helper()
	u, _ := url.Parse(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequest(r.Method, u.String()+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if r.URL.Path == path && resp.StatusCode == 200 {
			var m map[string]any
			if json.Unmarshal(out, &m) == nil {
				rewrite(m)
				out, _ = json.Marshal(m)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func flip(m map[string]any, field string) {
	b, _ := hex.DecodeString(m[field].(string))
	b[len(b)/2] ^= 1
	m[field] = hex.EncodeToString(b)
}

func TestClientDetectsTampering(t *testing.T) {
	n := nodetest.Start(t, nil)
	other := nodetest.Start(t, nil)
	otherInfo, err := nodetest.Client(t, other.BridgeURL()).NodeInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const sess, exec = "/verifiable/encrypt/create_keypair", "/x402_execute/verifiable/wasm"
	for name, tc := range map[string]struct {
		path    string
		rewrite func(map[string]any)
	}{
		"session key swapped":      {sess, func(m map[string]any) { flip(m, "session_pubkey") }},
		"quote tampered":           {sess, func(m map[string]any) { flip(m, "quote") }},
		"identity swapped":         {sess, func(m map[string]any) { m["identity_pubkey"] = otherInfo.IdentityPubkey }},
		"peer id swapped":          {sess, func(m map[string]any) { m["peer_id"] = otherInfo.PeerID }},
		"platform relabelled":      {sess, func(m map[string]any) { m["platform"] = "tdx" }},
		"result tampered":          {exec, func(m map[string]any) { flip(m, "encrypted_result") }},
		"commitment tampered":      {exec, func(m map[string]any) { flip(m, "result_commitment") }},
		"signature tampered":       {exec, func(m map[string]any) { flip(m, "signature") }},
		"result for other request": {exec, func(m map[string]any) { flip(m, "request_id") }},
	} {
		c := nodetest.Client(t, mitm(t, n.BridgeURL(), tc.path, tc.rewrite))
		if res, err := c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"a"}}); err == nil {
			t.Errorf("%s: client accepted the result %q", name, res.Output)
		}
	}
}

func TestReceiptVerifiesOfflineAndDetectsEdits(t *testing.T) {
	n := nodetest.Start(t, nil)
	c := nodetest.Client(t, n.BridgeURL())
	in := client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"audit", "me"}, AttestResult: true}
	res, err := c.Exec(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	rc := res.Receipt(in, attest.DevPolicy())
	if !rc.Verified || rc.Output != "audit me\n" || rc.Measurement != "unpinned" {
		t.Fatalf("receipt %+v", rc)
	}
	raw, _ := json.Marshal(rc)
	var saved client.Receipt
	if err := json.Unmarshal(raw, &saved); err != nil {
		t.Fatal(err)
	}
	claims, err := client.VerifyReceipt(context.Background(), &saved, nodetest.Verifiers(), attest.DevPolicy())
	if err != nil {
		t.Fatalf("saved receipt does not verify: %v", err)
	}
	if claims.Platform != attest.PlatformSim {
		t.Fatalf("claims %+v", claims)
	}
	if _, err := client.VerifyReceipt(context.Background(), &saved, nodetest.Verifiers(), attest.DefaultPolicy()); !errors.Is(err, attest.ErrPlatformNotAllowed) {
		t.Fatalf("default policy accepted a sim receipt: %v", err)
	}
	edits := map[string]func(*client.Receipt){
		"output":   func(r *client.Receipt) { r.OutputBase64 = []byte("audit you\n") },
		"argument": func(r *client.Receipt) { r.Args = []string{"audit", "you"} },
		"exit":     func(r *client.Receipt) { r.ExitCode = 1 },
		"salt":     func(r *client.Receipt) { r.Salt = strings.Repeat("00", 32) },
		"nonce":    func(r *client.Receipt) { r.Session.Nonce = strings.Repeat("00", 32) },
		"payment":  func(r *client.Receipt) { r.Payment = &apiPayment },
		"request":  func(r *client.Receipt) { r.RequestID = strings.Repeat("ab", 16) },
	}
	for name, edit := range edits {
		var r client.Receipt
		json.Unmarshal(raw, &r)
		edit(&r)
		if _, err := client.VerifyReceipt(context.Background(), &r, nodetest.Verifiers(), attest.DevPolicy()); err == nil {
			t.Errorf("receipt with edited %s verifies", name)
		}
	}
}

var apiPayment = api.Payment{Network: "eip155:1", Payer: "0x01", Nonce: "0x02", Amount: "1", Transaction: "0x00"}

func TestCommitmentMismatchIsNamed(t *testing.T) {
	n := nodetest.Start(t, nil)
	c := nodetest.Client(t, mitm(t, n.BridgeURL(), "/x402_execute/verifiable/wasm", func(m map[string]any) { flip(m, "result_commitment") }))
	_, err := c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.Hello})
	if !errors.Is(err, enclave.ErrCommitmentMismatch) {
		t.Fatalf("err = %v, want ErrCommitmentMismatch", err)
	}
}
