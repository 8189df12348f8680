package bridge_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
)

// post sends body to the node and decodes the answer into out (on 2xx) or
// returns the error envelope.
func post(t *testing.T, url string, body any, out any) (int, api.ErrorDetail) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(body)
		r = bytes.NewReader(j)
	}
	resp, err := http.Post(url, "application/json", r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 {
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("decode %s: %v", raw, err)
			}
		}
		return resp.StatusCode, api.ErrorDetail{}
	}
	var e api.Error
	if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("status %d with a body that is not a JSON error: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, e.Error
}

func TestCreateKeypairRejectsBadInput(t *testing.T) {
	n := nodetest.Start(t, nil)
	url := n.BridgeURL() + "/verifiable/encrypt/create_keypair"
	key := hex.EncodeToString(make([]byte, 32))
	nonce := hex.EncodeToString(make([]byte, 32))
	for name, tc := range map[string]struct {
		body   any
		status int
		code   string
	}{
		"empty body":        {"", 400, api.CodeInvalidJSON},
		"not JSON":          {"{pubkey:", 400, api.CodeInvalidJSON},
		"unknown field":     {`{"pubkey":"` + key + `","nonce":"` + nonce + `","user":"x"}`, 400, api.CodeInvalidJSON},
		"trailing data":     {`{"pubkey":"` + key + `","nonce":"` + nonce + `"} {}`, 400, api.CodeInvalidJSON},
		"pubkey not hex":    {api.CreateKeypairRequest{Pubkey: "zz", Nonce: nonce}, 400, api.CodeInvalidHex},
		"short pubkey":      {api.CreateKeypairRequest{Pubkey: "abcd", Nonce: nonce}, 400, api.CodeBadRequest},
		"missing nonce":     {api.CreateKeypairRequest{Pubkey: key}, 400, api.CodeBadRequest},
		"unknown suite":     {api.CreateKeypairRequest{Pubkey: key, Nonce: nonce, Suite: "rsa"}, 400, api.CodeBadRequest},
		"hybrid, short key": {api.CreateKeypairRequest{Pubkey: key, Nonce: nonce, Suite: "mlkem768x25519"}, 400, api.CodeBadRequest},
		"array body":        {"[]", 400, api.CodeInvalidJSON},
	} {
		status, e := post(t, url, tc.body, nil)
		if status != tc.status || e.Code != tc.code {
			t.Errorf("%s: %d %s (%s), want %d %s", name, status, e.Code, e.Message, tc.status, tc.code)
		}
	}
	var info api.NodeInfo
	if err := getJSON(n.BridgeURL()+"/v1/node", &info); err != nil || info.Sessions != 0 {
		t.Fatalf("rejected requests created sessions: %+v %v", info, err)
	}
}

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return errors.New(resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func TestExecEndToEnd(t *testing.T) {
	n := nodetest.Start(t, nil)
	c := nodetest.Client(t, n.BridgeURL())
	for _, in := range []client.ExecInput{
		{Wasm: wasmtest.EchoArgs, Args: []string{"hello", "world"}},
		{Wasm: wasmtest.Cat, Stdin: []byte("from stdin")},
		{Wasm: wasmtest.EchoArgs, Args: []string{"attested"}, AttestResult: true},
	} {
		res, err := c.Exec(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Join(in.Args, " ") + "\n"
		if in.Stdin != nil {
			want = string(in.Stdin)
		}
		if string(res.Output) != want {
			t.Fatalf("output %q, want %q", res.Output, want)
		}
		if in.AttestResult && res.ResultEvidence == nil {
			t.Fatal("asked for result evidence, got none")
		}
	}
	res, err := c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.Exit, Args: []string{"3"}})
	if err != nil || res.ExitCode != 3 {
		t.Fatalf("exit module: %v, exit code %v", err, res)
	}
}

// rawSession opens a session through the client and returns what a
// hand-made request needs.
func rawSession(t *testing.T, c *client.Client) *client.Session {
	t.Helper()
	s, err := c.OpenSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sealed(t *testing.T, s *client.Session, in client.ExecInput) *api.ExecRequest {
	t.Helper()
	var rid enclave.ID
	rand.Read(rid[:])
	req, err := client.SealRequest(s, rid, in)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func flipHex(s string, i int) string {
	b, _ := hex.DecodeString(s)
	b[i%len(b)] ^= 0x01
	return hex.EncodeToString(b)
}

func TestTamperingAndReplay(t *testing.T) {
	n := nodetest.Start(t, nil)
	c := nodetest.Client(t, n.BridgeURL())
	s := rawSession(t, c)
	url := n.BridgeURL() + "/x402_execute/verifiable/wasm"
	req := sealed(t, s, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"x"}})

	for _, i := range []int{0, 17, 40, 200} {
		bad := *req
		bad.EncryptedRequest = flipHex(req.EncryptedRequest, i)
		if status, e := post(t, url, bad, nil); status != 400 || e.Code != api.CodeDecryptFailed {
			t.Errorf("flipped byte %d of the sealed request: %d %s", i, status, e.Code)
		}
	}
	bad := *req
	bad.SessionID = flipHex(req.SessionID, 5)
	if status, e := post(t, url, bad, nil); status != 401 || e.Code != api.CodeSessionNotFound {
		t.Errorf("flipped session id: %d %s", status, e.Code)
	}
	bad = *req
	bad.RequestID = flipHex(req.RequestID, 5)
	if status, e := post(t, url, bad, nil); status != 400 || e.Code != api.CodeDecryptFailed {
		t.Errorf("flipped request id: %d %s", status, e.Code)
	}
	bad = *req
	bad.PublicKey = hex.EncodeToString(make([]byte, 32))
	if status, e := post(t, url, bad, nil); status != 401 {
		t.Errorf("wrong public_key: %d %s", status, e.Code)
	}

	// The untampered request still runs once, and only once.
	var resp api.ExecResponse
	if status, e := post(t, url, req, &resp); status != 200 {
		t.Fatalf("genuine request after tampering: %d %s %s", status, e.Code, e.Message)
	}
	if status, e := post(t, url, req, nil); status != 409 || e.Code != api.CodeReplayedRequest {
		t.Fatalf("replayed request: %d %s", status, e.Code)
	}
}

func TestConcurrentReplayRunsOnce(t *testing.T) {
	n := nodetest.Start(t, nil)
	s := rawSession(t, nodetest.Client(t, n.BridgeURL()))
	req := sealed(t, s, client.ExecInput{Wasm: wasmtest.Hello})
	body, _ := json.Marshal(req)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			resp, err := http.Post(n.BridgeURL()+"/x402_execute/verifiable/wasm", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[200] != 1 || codes[409] != 15 {
		t.Fatalf("status counts %v, want one 200 and fifteen 409", codes)
	}
}

func TestHostileModulesLeaveNodeHealthy(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) {
		// Long enough that the memory and recursion modules reach their
		// own ends on a loaded machine under -race, short enough for the
		// infinite loop to be stopped by it: a module sent with the request
		// runs on the executor's default fuel budget, which outlasts any
		// deadline (an agent's max_fuel stops it with out_of_fuel instead:
		// node's TestOutOfFuelAtTheBridge).
		c.WasmTimeout = node.Duration{Duration: 2 * time.Second}
		c.WasmMaxModuleBytes = 64 << 10
	})
	c := nodetest.Client(t, n.BridgeURL())
	cases := map[string]struct {
		wasm []byte
		code string
	}{
		"infinite_loop":  {wasmtest.InfiniteLoop, api.CodeTimeout},
		"memory_grow":    {wasmtest.MemoryGrow, api.CodeTrap},
		"deep_recursion": {wasmtest.DeepRecursion, api.CodeTrap},
		"huge_stdout":    {wasmtest.HugeStdout, api.CodeOutputTooLarge},
		"unknown_import": {wasmtest.UnknownImport, api.CodeInvalidModule},
		"truncated":      {wasmtest.Truncated, api.CodeInvalidModule},
		"not a command":  {wasmtest.NoStart, api.CodeInvalidModule},
		"oversized":      {wasmtest.Oversized(64 << 10), api.CodeModuleTooLarge},
	}
	for name, tc := range cases {
		start := time.Now()
		_, err := c.Exec(context.Background(), client.ExecInput{Wasm: tc.wasm})
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != tc.code {
			t.Errorf("%s: err = %v, want code %s", name, err, tc.code)
		} else if strings.Contains(apiErr.Message, "\n") || apiErr.Message == "" {
			t.Errorf("%s: reason %q is not one clear line", name, apiErr.Message)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("%s took %v", name, d)
		}
		res, err := c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.Hello})
		if err != nil || string(res.Output) != "hello\n" {
			t.Fatalf("after %s the node does not serve: %v", name, err)
		}
	}
	// A 0-byte module is refused before the request is even sealed
	// usefully: the payload must carry a module or an agent.
	if _, err := c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.Empty}); err == nil {
		t.Fatal("empty module ran")
	}
	// The file-opening module gets no file system: it exits with an errno.
	res, err := c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.OpenFile})
	if err != nil || res.ExitCode == 0 || len(res.Output) != 0 {
		t.Fatalf("open_file: err %v, result %+v", err, res)
	}
}

func TestBodyLimitsAndRoutes(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.MaxBodyBytes = 1 << 10 })
	big := `{"session_id":"` + strings.Repeat("a", 2048) + `"}`
	if status, e := post(t, n.BridgeURL()+"/x402_execute/verifiable/wasm", big, nil); status != 413 || e.Code != api.CodeBodyTooLarge {
		t.Fatalf("big body: %d %s", status, e.Code)
	}
	if status, e := post(t, n.BridgeURL()+"/x402_execute/verifiable/wasm", `{"encrypted_wasm":"00"}`, nil); status != 400 || !strings.Contains(e.Message, "encrypted_request") {
		t.Fatalf("seed-style body: %d %s", status, e.Message)
	}
	resp, err := http.Get(n.BridgeURL() + "/x402_execute/verifiable/wasm")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET on a POST route: %d allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if status, e := post(t, n.BridgeURL()+"/test/execute/wasm", "{}", nil); status != 404 || e.Code != api.CodeNotFound {
		t.Fatalf("unpaid twin route exists: %d %s", status, e.Code)
	}
	resp, err = http.Get(n.BridgeURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"agentnode_http_requests_total", "agentnode_sessions", "go_goroutines"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	if resp.Header.Get("X-Request-Id") != "" {
		t.Log("metrics carry a request id")
	}
}

func TestAPITokenRateLimitAndShedding(t *testing.T) {
	const token = "0123456789abcdef-secret"
	n := nodetest.Start(t, func(c *node.Config) { c.APIToken = token })
	resp, err := http.Get(n.BridgeURL() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz needs no token: %v %v", resp, err)
	}
	resp.Body.Close()
	if status, e := post(t, n.BridgeURL()+"/verifiable/encrypt/create_keypair", "{}", nil); status != 401 || e.Code != api.CodeUnauthorized {
		t.Fatalf("no token: %d %s", status, e.Code)
	}
	req, _ := http.NewRequest("GET", n.BridgeURL()+"/v1/node", nil)
	req.Header.Set("Authorization", "Bearer "+token[:len(token)-1]+"X")
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	c, err := client.New(client.Config{NodeURL: n.BridgeURL(), Policy: nil, Verifiers: nodetest.Verifiers(), APIToken: token})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.NodeInfo(context.Background()); err != nil {
		t.Fatalf("with token: %v", err)
	}

	limited := nodetest.Start(t, func(c *node.Config) { c.RateLimitPerIP = 1; c.RateLimitBurst = 2 })
	codes := map[int]int{}
	for range 5 {
		resp, err := http.Get(limited.BridgeURL() + "/v1/node")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[200] != 2 || codes[429] != 3 {
		t.Fatalf("rate limit 1/s burst 2: %v", codes)
	}
}

func TestOverloadIsShedWith503(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) {
		c.MaxConcurrentExecutions = 1
		c.MaxInflightExecutions = 2
		c.WasmTimeout = node.Duration{Duration: 400 * time.Millisecond}
	})
	c := nodetest.Client(t, n.BridgeURL())
	s := rawSession(t, c)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 8 {
		body, _ := json.Marshal(sealed(t, s, client.ExecInput{Wasm: wasmtest.InfiniteLoop}))
		wg.Go(func() {
			resp, err := http.Post(n.BridgeURL()+"/x402_execute/verifiable/wasm", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[503] < 5 || codes[422] < 1 || codes[503]+codes[422] != 8 {
		t.Fatalf("8 spinning requests against 2 slots: %v", codes)
	}
	if res, err := c.Exec(context.Background(), client.ExecInput{Wasm: wasmtest.Hello}); err != nil || string(res.Output) != "hello\n" {
		t.Fatalf("after overload: %v", err)
	}
}
