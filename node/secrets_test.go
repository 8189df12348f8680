package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/x402test"
)

// wire records every request header and response the client exchanges
// with the bridge: what travels in clear outside the sealed envelopes.
type wire struct {
	mu  sync.Mutex
	out bytes.Buffer
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, v := range r.Header {
		w.out.WriteString("> " + k + ": " + strings.Join(v, ",") + "\n")
	}
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	for k, v := range resp.Header {
		w.out.WriteString("< " + k + ": " + strings.Join(v, ",") + "\n")
	}
	w.out.Write(body)
	w.out.WriteString("\n")
	return resp, nil
}

func (w *wire) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

func secret(t *testing.T, label string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return label + "-" + hex.EncodeToString(b)
}

// TestSecretsNeverLogged runs paid executions, a failing paid script, a
// trap, refused payments and a wrong bearer token against a node logging
// at debug level, and checks that neither its log nor anything the
// bridge answers in clear holds a secret: the API token (right or
// wrong), the payer's and the gas key, the identity key, the signed
// payment headers, or the plaintext of a sealed request (arguments,
// stdin, script source and what the script says when it fails). Failed
// requests are logged with the client's request id.
func TestSecretsNeverLogged(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	logs := &nodetest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	cfg := paidConfig(env, dir, testPrice)
	cfg.LogLevel = "debug"
	cfg.APIToken = secret(t, "token")
	n, err := node.New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if n != nil {
			_ = n.Close()
		}
	}()
	tap := &wire{}
	newClient := func(token string, pay bool) *client.Client {
		var payer *client.Payer
		if pay {
			payer = &client.Payer{Key: env.PayerKey, MaxPrice: big.NewInt(testPrice)}
		}
		c, err := client.New(client.Config{NodeURL: n.BridgeURL(), Policy: attest.DevPolicy(), Verifiers: nodetest.Verifiers(),
			Payer: payer, APIToken: token, HTTPClient: &http.Client{Transport: tap}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	arg, stdin := secret(t, "arg"), secret(t, "stdin")
	paid := newClient(cfg.APIToken, true)

	res, err := paid.Exec(ctx, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{arg}})
	if err != nil || !strings.Contains(string(res.Output), arg) {
		t.Fatalf("paid exec: %v", err)
	}
	if res, err := paid.Exec(ctx, client.ExecInput{Wasm: wasmtest.Cat, Stdin: []byte(stdin)}); err != nil || string(res.Output) != stdin {
		t.Fatalf("paid exec with stdin: %v", err)
	}
	// A script that fails quoting its secret argument and a secret of its
	// own source, and one that does not compile around a secret name.
	srcSecret := secret(t, "src")
	failing := "def main(args):\n    fail(\"" + srcSecret + " \" + args[0])\n"
	if _, err := paid.Exec(ctx, client.ExecInput{Script: failing, Args: []string{arg}}); err == nil {
		t.Fatal("the failing script succeeded")
	}
	badName := strings.ReplaceAll(secret(t, "name"), "-", "_")
	if _, err := paid.Exec(ctx, client.ExecInput{Script: "def main(args):\n    return " + badName + "\n"}); err == nil {
		t.Fatal("a script with an undefined name ran")
	}
	if _, err := paid.Exec(ctx, client.ExecInput{Wasm: wasmtest.DeepRecursion, Args: []string{arg}}); err == nil {
		t.Fatal("the trap succeeded")
	}
	// Refusals: no payment, a payment over the price the client allows,
	// a wrong token.
	if _, err := newClient(cfg.APIToken, false).Exec(ctx, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{arg}}); err == nil {
		t.Fatal("unpaid exec succeeded")
	}
	wrongToken := secret(t, "wrongtoken")
	if _, err := newClient(wrongToken, true).Exec(ctx, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{arg}}); err == nil {
		t.Fatal("a wrong token was let in")
	}
	// A failed request is logged with the client's request id.
	req, _ := http.NewRequest(http.MethodPost, n.BridgeURL()+"/x402_execute/verifiable/wasm", strings.NewReader(`{"session_id":"`+arg+`"}`))
	req.Header.Set("Authorization", "Bearer "+cfg.APIToken)
	req.Header.Set("X-Request-Id", "req-visible-42")
	resp, err := (&http.Client{Transport: tap}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") != "req-visible-42" {
		t.Fatalf("request id not echoed: %q", resp.Header.Get("X-Request-Id"))
	}

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = nil
	log, sent := logs.String(), tap.String()
	if !strings.Contains(log, `"request_id":"req-visible-42"`) || !strings.Contains(log, "request failed") {
		t.Fatalf("the failed request is not logged with its id:\n%s", log)
	}
	idKey, err := os.ReadFile(filepath.Join(dir, "identity.key"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"api token":     cfg.APIToken,
		"wrong token":   wrongToken,
		"argument":      arg,
		"stdin":         stdin,
		"script source": srcSecret,
		"script name":   badName,
		"payer key":     hex.EncodeToString(crypto.FromECDSA(env.PayerKey)),
		"gas key":       hex.EncodeToString(crypto.FromECDSA(env.GasKey)),
		"identity key":  hex.EncodeToString(idKey),
		"identity b64":  base64.StdEncoding.EncodeToString(idKey),
	}
	signatures := 0
	for _, line := range strings.Split(sent, "\n") {
		if v, ok := strings.CutPrefix(line, "> Payment-Signature: "); ok {
			secrets["payment header "+v[:8]] = v
			signatures++
		}
	}
	if signatures < 3 {
		t.Fatalf("%d payments seen on the wire, want at least 3", signatures)
	}
	for name, s := range secrets {
		if strings.Contains(log, s) || strings.Contains(strings.ToLower(log), strings.ToLower(s)) {
			t.Errorf("the log holds the %s", name)
			for _, l := range strings.Split(log, "\n") {
				if strings.Contains(strings.ToLower(l), strings.ToLower(s)) {
					t.Log(l)
				}
			}
		}
	}
	// In clear on the wire: the client sends its own token and payment
	// headers; the node must answer none of the sealed plaintext.
	answers := strings.Join(filterLines(sent, "> "), "\n")
	for _, name := range []string{"argument", "stdin", "script source", "script name", "api token", "wrong token", "payer key", "gas key", "identity key"} {
		if strings.Contains(answers, secrets[name]) {
			t.Errorf("the bridge answered the %s in clear", name)
		}
	}
}

// filterLines drops the lines starting with prefix.
func filterLines(s, prefix string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}
