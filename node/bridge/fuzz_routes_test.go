package bridge_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/nodetest"
)

// fuzzRoutes are the bridge's routes; FuzzRoutes picks one by index or
// takes a method and path of its own.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/encrypt/create_keypair"},
	{"POST", "/verifiable/encrypt/create_keypair"},
	{"POST", "/x402_execute/verifiable/wasm"},
	{"POST", "/x402_policy/unsafe/python"},
	{"POST", "/search"},
	{"POST", "/agent/deploy"},
	{"GET", "/healthz"},
	{"GET", "/v1/node"},
	{"GET", "/v1/agents"},
	{"DELETE", "/v1/agents/echo"},
	{"POST", "/v1/agents/12D3KooWEAb2UG3fGbyAyiLiqBkDKSoqnvUKKemiycqXimNj2HfC/echo/call"},
	{"GET", "/v1/peers"},
	{"GET", "/metrics"},
	{"GET", "/ui/"},
}

// bridgeState is what a refused request must leave as it was.
type bridgeState struct {
	agents   string
	sessions int
}

func readState(t *testing.T, url string) bridgeState {
	t.Helper()
	var s bridgeState
	resp, err := http.Get(url + "/v1/agents")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	s.agents = string(b)
	var info api.NodeInfo
	if err := getJSON(url+"/v1/node", &info); err != nil {
		t.Fatal(err)
	}
	s.sessions = info.Sessions
	return s
}

// FuzzRoutes sends whatever a local client can send to every route of a
// real node's bridge: any method, path, header and body. Nothing panics or
// hangs; every answer carries a request id and no CORS header; every
// refusal is a JSON error with a code and a message, never an internal
// error; and a refused request leaves the node's agents and sessions as
// they were.
func FuzzRoutes(f *testing.F) {
	n := nodetest.Start(f, func(c *node.Config) { c.MaxBodyBytes = 1 << 16 })
	url := n.BridgeURL()
	manifest, _ := json.Marshal("name = \"echo\"\ndescription = \"repeats its arguments\"\n")
	key, nonce := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	for i, body := range []string{
		`{"pubkey":"` + key + `","nonce":"` + nonce + `"}`,
		`{"pubkey":"` + key + `","nonce":"` + nonce + `","suite":"mlkem768x25519"}`,
		`{"session_id":"00000000000000000000000000000000","request_id":"00000000000000000000000000000000","encrypted_request":"00"}`,
		`{"session_id":"zz","request_id":"","encrypted_request":""}`,
		`{"description":"repeat my arguments","limit":3}`,
		`{"manifest":` + string(manifest) + `,"wasm":"` + hex.EncodeToString(wasmtest.EchoArgs) + `"}`,
		``, ``, ``, ``,
		`{"args":["x"],"stdin":"aGk="}`,
	} {
		f.Add(uint8(i), "", "", body, "", "")
	}
	f.Add(uint8(5), "", "", `{"agent":"../../etc"}`, "Content-Type", "text/plain")
	f.Add(uint8(200), "OPTIONS", "/x402_execute/verifiable/wasm", "", "Origin", "https://evil.example")
	f.Add(uint8(200), "PUT", "/v1/node", "{}", "Authorization", "Bearer x")
	f.Add(uint8(200), "GET", "/v1/agents/%2e%2e/call", "", "X-Request-Id", "a\x01b")
	f.Add(uint8(200), "POST", "//search?x=1", `{"description":"x"}`, "", "")
	cl := &http.Client{Timeout: 20 * time.Second}
	var state *bridgeState
	f.Fuzz(func(t *testing.T, route uint8, method, path, body, name, value string) {
		if int(route) < len(fuzzRoutes) {
			method, path = fuzzRoutes[route].method, fuzzRoutes[route].path
		}
		if state == nil {
			s := readState(t, url)
			state = &s
		}
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil || req.URL.Host != strings.TrimPrefix(url, "http://") {
			return // not a request a client can send to this node
		}
		if name != "" {
			req.Header.Set(name, value)
		}
		resp, err := cl.Do(req)
		if err != nil {
			if strings.Contains(err.Error(), "Timeout") {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			return // refused by the client library (bad header, ...)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for k := range resp.Header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Fatalf("%s %s answered with CORS header %s", method, path, k)
			}
		}
		if resp.Header.Get("X-Request-Id") == "" && resp.StatusCode != http.StatusBadRequest {
			// net/http answers a malformed request line itself with a bare
			// 400; everything the bridge answers has an id.
			t.Fatalf("%s %s: %d without X-Request-Id", method, path, resp.StatusCode)
		}
		if resp.StatusCode/100 == 2 || resp.StatusCode/100 == 3 {
			s := readState(t, url)
			state = &s
			return
		}
		if resp.StatusCode == http.StatusInternalServerError {
			t.Fatalf("%s %s %q: internal error %s", method, path, body, raw)
		}
		var e api.Error
		if bytes.HasPrefix(raw, []byte("{")) {
			if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s: %d with body %q", method, path, resp.StatusCode, raw)
			}
		} else if resp.Header.Get("X-Request-Id") != "" {
			t.Fatalf("%s %s: %d with a non-JSON body %q", method, path, resp.StatusCode, raw)
		}
		if s := readState(t, url); s != *state {
			t.Fatalf("%s %s %q was refused (%d %s) but changed the node: %+v -> %+v", method, path, body, resp.StatusCode, raw, *state, s)
		}
	})
}
