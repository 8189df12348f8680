package node_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/x402test"
)

// everyRoute is the bridge's route table as a client sees it, with the
// node's own facilitator and status page mounted.
func everyRoute(peer string) [][2]string {
	return [][2]string{
		{"POST", "/encrypt/create_keypair"},
		{"POST", "/verifiable/encrypt/create_keypair"},
		{"POST", "/x402_execute/verifiable/wasm"},
		{"POST", "/x402_policy/unsafe/python"},
		{"POST", "/search"},
		{"POST", "/agent/deploy"},
		{"GET", "/v1/node"},
		{"GET", "/v1/agents"},
		{"DELETE", "/v1/agents/echo"},
		{"POST", "/v1/agents/" + peer + "/echo/call"},
		{"GET", "/v1/peers"},
		{"GET", "/metrics"},
		{"GET", "/ui/"},
		{"GET", "/ui"},
		{"POST", "/facilitator/verify"},
		{"POST", "/facilitator/settle"},
		{"GET", "/facilitator/supported"},
		{"GET", "/no/such/route"},
	}
}

func do(t *testing.T, method, url string, hdr http.Header, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func noCORS(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	for k := range resp.Header {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s: answered with CORS header %s: %q", what, k, resp.Header.Get(k))
		}
	}
}

// TestBridgeSafety checks the bridge's guard on a paying node that serves
// its facilitator, its status page and the p2p routes: every route but
// /healthz needs the bearer token (a wrong one is refused like none);
// CORS is off (no Access-Control-* header on any answer, a 402 included,
// and a browser's preflight is refused); and a node binds loopback unless
// told otherwise.
func TestBridgeSafety(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	cfg := paidConfig(env, t.TempDir(), testPrice)
	on := true
	cfg.P2P, cfg.Facilitator, cfg.APIToken = &on, true, "a-token-of-enough-length"
	n := nodetest.StartConfig(t, cfg)
	url := n.BridgeURL()
	good := http.Header{"Authorization": {"Bearer " + cfg.APIToken}}

	for _, r := range everyRoute(n.PeerID()) {
		what := r[0] + " " + r[1]
		for name, hdr := range map[string]http.Header{
			"no token":     nil,
			"wrong token":  {"Authorization": {"Bearer a-token-of-enough-lengtH"}},
			"basic auth":   {"Authorization": {"Basic YTpi"}},
			"token prefix": {"Authorization": {"Bearer a-token-of-enough"}},
		} {
			resp, body := do(t, r[0], url+r[1], hdr, "{}")
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"code":"unauthorized"`) {
				t.Errorf("%s with %s: %d %s", what, name, resp.StatusCode, body)
			}
			noCORS(t, what, resp)
		}
		// A browser's preflight from another origin: refused, no CORS grant.
		pre := http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {r[0]},
			"Access-Control-Request-Headers": {"authorization, content-type"}}
		resp, _ := do(t, http.MethodOptions, url+r[1], pre, "")
		if resp.StatusCode/100 == 2 {
			t.Errorf("preflight of %s answered %d", what, resp.StatusCode)
		}
		noCORS(t, "preflight of "+what, resp)
		for k, v := range good {
			pre[k] = v
		}
		resp, _ = do(t, http.MethodOptions, url+r[1], pre, "")
		if resp.StatusCode/100 == 2 {
			t.Errorf("preflight of %s with the token answered %d", what, resp.StatusCode)
		}
		noCORS(t, "preflight with token of "+what, resp)
		// With the token and a foreign Origin, the answer grants nothing.
		hdr := http.Header{"Origin": {"https://evil.example"}}
		for k, v := range good {
			hdr[k] = v
		}
		resp, _ = do(t, r[0], url+r[1], hdr, "{}")
		if resp.StatusCode == http.StatusUnauthorized {
			t.Errorf("%s refused the right token", what)
		}
		noCORS(t, what+" with the token", resp)
	}
	if resp, body := do(t, "GET", url+"/healthz", nil, ""); resp.StatusCode != 200 || !strings.Contains(body, "ok") {
		t.Errorf("healthz without token: %d %s", resp.StatusCode, body)
	}

	// The 402 of a paid route carries the x402 headers and no CORS header.
	c, err := client.New(client.Config{NodeURL: url, APIToken: cfg.APIToken, Verifiers: nodetest.Verifiers(), Policy: attest.DevPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	raw := rawRequest(t, c, client.ExecInput{Wasm: wasmtest.Hello})
	resp, _ := post(t, url, good, raw)
	if resp.StatusCode != http.StatusPaymentRequired || resp.Header.Get("Payment-Required") == "" {
		t.Fatalf("unpaid: %d", resp.StatusCode)
	}
	noCORS(t, "402", resp)
	if _, err := c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.Hello}); err == nil {
		t.Fatal("an unpaid execution ran")
	}

	// Defaults: the bridge and libp2p listen on loopback only.
	var d node.Config
	d.DataDir = t.TempDir()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(d.Listening)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Errorf("default listening %q is not loopback", d.Listening)
	}
	for _, a := range d.P2PListen {
		if !strings.HasPrefix(a, "/ip4/127.0.0.1/") {
			t.Errorf("default p2p_listen %q is not loopback", a)
		}
	}
	for _, l := range []string{"0.0.0.0:3000", "[::]:3000", "192.0.2.1:3000", ":3000"} {
		c := node.Config{DataDir: t.TempDir(), Listening: l}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "api_token") {
			t.Errorf("listening %q without a token: %v", l, err)
		}
	}
}

// TestBrowserCannotDriveATokenlessBridge: a bridge without a token trusts
// whoever reaches loopback, which includes the web pages its user's
// browser opens. A page may send "simple" cross-origin requests (text/plain
// POSTs need no preflight) and, after rebinding its own DNS name to
// 127.0.0.1, read the answers as same-origin. So a request carrying a
// foreign Origin is refused before it does anything (deploy an agent, make
// the node pay for a remote call), and a tokenless bridge answers only to
// loopback Host names. Both refusals are counted.
func TestBrowserCannotDriveATokenlessBridge(t *testing.T) {
	n := nodetest.Start(t, nil)
	url := n.BridgeURL()
	csrf := http.Header{"Origin": {"https://evil.example"}, "Content-Type": {"text/plain"}}
	for _, r := range everyRoute(n.PeerID()) {
		resp, body := do(t, r[0], url+r[1], csrf, `{"agent":"echo"}`)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"code":"forbidden_origin"`) {
			t.Errorf("%s %s from a foreign origin: %d %s", r[0], r[1], resp.StatusCode, body)
		}
		noCORS(t, r[1], resp)
	}
	// DNS rebinding: the page's own name now points at 127.0.0.1.
	for _, host := range []string{"evil.example", "evil.example:3000", "127.0.0.1.evil.example"} {
		req, _ := http.NewRequest(http.MethodGet, url+"/v1/node", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(string(b), `"code":"misdirected_request"`) {
			t.Errorf("Host %s: %d %s", host, resp.StatusCode, b)
		}
	}
	// Local programs send no Origin (or the bridge's own) and a loopback Host.
	for _, origin := range []string{"", url} {
		hdr := http.Header{}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		if resp, body := do(t, "GET", url+"/v1/node", hdr, ""); resp.StatusCode != 200 {
			t.Errorf("origin %q: %d %s", origin, resp.StatusCode, body)
		}
	}
	for _, host := range []string{"localhost", "127.0.0.1"} {
		req, _ := http.NewRequest(http.MethodGet, url+"/v1/node", nil)
		req.Host = host + ":1"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("Host %s: %d", host, resp.StatusCode)
		}
	}
	body := get(t, url+"/metrics")
	if metric(body, `agentnode_http_rejected_total{reason="origin"}`) != float64(len(everyRoute(n.PeerID()))) ||
		metric(body, `agentnode_http_rejected_total{reason="host"}`) != 3 {
		t.Fatalf("refusals not counted:\n%s", grep(body, "rejected"))
	}
}
