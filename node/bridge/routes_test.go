package bridge_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/bridge"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
)

func TestAgentRoutesRejectBadInputAndChangeNothing(t *testing.T) {
	n := nodetest.Start(t, nil)
	url := n.BridgeURL()
	manifest := "name = \"echo\"\ndescription = \"repeats its arguments\"\n"
	wasmHex := hex.EncodeToString(wasmtest.EchoArgs)
	for name, c := range map[string]struct {
		body   string
		status int
		code   string
	}{
		"empty":            {`{}`, 400, api.CodeBadRequest},
		"not JSON":         {`{`, 400, api.CodeInvalidJSON},
		"unknown field":    {`{"agent":"a","path":"/etc"}`, 400, api.CodeInvalidJSON},
		"both forms":       {`{"agent":"echo","manifest":"x","wasm":"00"}`, 400, api.CodeBadRequest},
		"no module":        {`{"manifest":` + quote(manifest) + `}`, 400, api.CodeBadRequest},
		"no manifest":      {`{"wasm":"` + wasmHex + `"}`, 400, api.CodeBadRequest},
		"bad hex":          {`{"manifest":` + quote(manifest) + `,"wasm":"zz"}`, 400, api.CodeInvalidHex},
		"unknown agent":    {`{"agent":"arxiv"}`, 400, api.CodeUnknownAgent},
		"path as agent":    {`{"agent":"../../etc"}`, 400, api.CodeUnknownAgent},
		"bad manifest":     {`{"manifest":"name = \"echo\"\nbogus = 1","wasm":"` + wasmHex + `"}`, 400, api.CodeBadManifest},
		"priced, no x402":  {`{"manifest":` + quote(manifest+"price = 10000\n") + `,"wasm":"` + wasmHex + `"}`, 400, api.CodeBadManifest},
		"invalid module":   {`{"manifest":` + quote(manifest) + `,"wasm":"` + hex.EncodeToString(wasmtest.Truncated) + `"}`, 422, api.CodeInvalidModule},
		"forbidden import": {`{"manifest":` + quote(manifest) + `,"wasm":"` + hex.EncodeToString(wasmtest.UnknownImport) + `"}`, 422, api.CodeInvalidModule},
	} {
		if status, e := post(t, url+"/agent/deploy", c.body, nil); status != c.status || e.Code != c.code {
			t.Errorf("%s: %d %s (%s), want %d %s", name, status, e.Code, e.Message, c.status, c.code)
		}
	}
	var list api.AgentList
	if err := getJSON(url+"/v1/agents", &list); err != nil || len(list.Agents) != 0 {
		t.Fatalf("agents after bad deploys: %+v %v", list, err)
	}
	req, _ := http.NewRequest(http.MethodDelete, url+"/v1/agents/nobody", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("withdraw of an unknown agent: %d", resp.StatusCode)
	}

	// The good upload, and the agent runs by name through the local bridge.
	var dep api.DeployResponse
	if status, e := post(t, url+"/agent/deploy", `{"manifest":`+quote(manifest)+`,"wasm":"`+wasmHex+`"}`, &dep); status != 200 || dep.Agent.Name != "echo" {
		t.Fatalf("upload: %d %+v %+v", status, e, dep)
	}
	c := nodetest.Client(t, url)
	if res, err := c.Exec(context.Background(), client.ExecInput{Agent: "echo", Args: []string{"a", "b"}}); err != nil || string(res.Output) != "a b\n" {
		t.Fatalf("run deployed agent: %v", err)
	}
}

func TestNetworkRoutesRejectBadInput(t *testing.T) {
	n := nodetest.Start(t, nil)
	url := n.BridgeURL()
	for name, c := range map[string]struct {
		path, body string
		status     int
		code       string
	}{
		"no description":  {"/search", `{}`, 400, api.CodeBadRequest},
		"only stopwords":  {"/search", `{"description":"the of and"}`, 400, api.CodeBadRequest},
		"limit too large": {"/search", `{"description":"weather","limit":51}`, 400, api.CodeBadRequest},
		"huge query":      {"/search", `{"description":"` + strings.Repeat("weather ", 1000) + `"}`, 400, api.CodeBadRequest},
		"bad peer":        {"/v1/agents/not-a-peer/echo/call", `{}`, 400, api.CodeBadRequest},
		"bad name":        {"/v1/agents/" + n.PeerID() + "/-x/call", `{}`, 400, api.CodeBadRequest},
		"unknown agent":   {"/v1/agents/" + n.PeerID() + "/echo/call", `{"args":["x"]}`, 404, api.CodeUnknownAgent},
		"bad stdin":       {"/v1/agents/" + n.PeerID() + "/echo/call", `{"stdin":"%%%"}`, 400, api.CodeInvalidJSON},
	} {
		if status, e := post(t, url+c.path, c.body, nil); status != c.status || e.Code != c.code {
			t.Errorf("%s: %d %s (%s), want %d %s", name, status, e.Code, e.Message, c.status, c.code)
		}
	}
	var found api.SearchResponse
	if status, e := post(t, url+"/search", `{"description":"arxiv papers"}`, &found); status != 200 || found.Message != "no agent found" || found.Agents == nil {
		t.Fatalf("search with nothing to find: %d %+v %+v", status, e, found)
	}
	var peers api.PeersResponse
	if err := getJSON(url+"/v1/peers", &peers); err != nil || peers.PeerID != n.PeerID() || len(peers.Addresses) == 0 {
		t.Fatalf("peers: %+v %v", peers, err)
	}
}

// FuzzStreamCalls feeds the bridge's p2p entry points what a hostile peer
// can send: any body and header. Nothing may panic, every answer is JSON,
// and without a session no execution can succeed.
func FuzzStreamCalls(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	id, err := enclave.GenerateIdentity()
	if err != nil {
		f.Fatal(err)
	}
	exec, err := wasm.New(context.Background(), wasm.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = exec.Close(context.Background()) })
	enc, err := enclave.New(enclave.Config{Identity: id, Attester: sim.NewAttester(key, [sim.MeasurementSize]byte{}), Executor: exec})
	if err != nil {
		f.Fatal(err)
	}
	s, err := bridge.New(bridge.Config{Enclave: enc, NodeInfo: func() api.NodeInfo { return api.NodeInfo{} }, Registry: prometheus.NewRegistry(), MaxBodyBytes: 1 << 16})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"session_id":"00000000000000000000000000000000","request_id":"00000000000000000000000000000000","encrypted_request":"00"}`), "PAYMENT-SIGNATURE", "e30=")
	f.Add([]byte(`{"pubkey":"`+strings.Repeat("ab", 32)+`","nonce":"`+strings.Repeat("cd", 32)+`"}`), "X-Request-Id", "x")
	f.Add([]byte(`{"encrypted_wasm":"00"}`), "", "")
	f.Add([]byte(`[]`), "Content-Type", "text/plain")
	f.Fuzz(func(t *testing.T, body []byte, name, value string) {
		h := http.Header{}
		if name != "" {
			h[name] = []string{value}
		}
		ctx := context.Background()
		rep := s.Exec(ctx, bridge.Call{Header: h, Body: body, AgentsOnly: true})
		var e api.Error
		if rep.Status < 400 || json.Unmarshal(rep.Body, &e) != nil || e.Error.Code == "" {
			t.Fatalf("exec answered %d %q", rep.Status, rep.Body)
		}
		rep = s.OpenSession(ctx, bridge.Call{Header: h, Body: body})
		if rep.Status == http.StatusOK {
			var ok api.CreateKeypairResponse
			if json.Unmarshal(rep.Body, &ok) != nil || ok.SessionID == "" || ok.Quote == "" {
				t.Fatalf("session answered 200 %q", rep.Body)
			}
		} else if json.Unmarshal(rep.Body, &e) != nil || e.Error.Code == "" {
			t.Fatalf("session answered %d %q", rep.Status, rep.Body)
		}
	})
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
