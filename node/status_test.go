package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/activity"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/node/nodetest"
)

// TestActivityRecordsRunsAndCalls: a remote call shows on both sides (the
// caller's call, the callee's run, each naming the other), a module run on
// the bridge shows its hash and no peer, and a call that fails shows the
// code it was answered with.
func TestActivityRecordsRunsAndCalls(t *testing.T) {
	greet := nettest.Agent{Name: "greet", Description: "says hello to its arguments", Banner: "hello"}
	nw := nettest.Start(t, 2, nettest.Options{Agents: func(i int) []nettest.Agent {
		if i == 1 {
			return []nettest.Agent{greet}
		}
		return nil
	}})
	n0, n1 := nw.Nodes[0], nw.Nodes[1]
	ctx := context.Background()
	if err := nettest.Eventually(30*time.Second, 100*time.Millisecond, func() error {
		_, err := n0.CallAgent(ctx, n1.PeerID(), "greet", api.CallRequest{Args: []string{"you"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := n0.CallAgent(ctx, n1.PeerID(), "nobody", api.CallRequest{}); err == nil {
		t.Fatal("call of a missing agent succeeded")
	}
	if _, err := nettest.Client(t, n0).Exec(ctx, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"x"}}); err != nil {
		t.Fatal(err)
	}

	calls := n0.Activity()
	if len(calls) < 3 {
		t.Fatalf("node 0 recorded %d events, want at least 3: %+v", len(calls), calls)
	}
	run, miss, ok := calls[0], calls[1], calls[2] // newest first
	if run.Kind != activity.Served || run.Agent != "" || run.Peer != "" || run.Outcome != activity.OK || !strings.HasPrefix(run.Module, sha(wasmtest.EchoArgs)[:16]) {
		t.Errorf("module run: %+v", run)
	}
	if miss.Kind != activity.Called || miss.Agent != "nobody" || miss.Outcome != api.CodeUnknownAgent {
		t.Errorf("failed call: %+v", miss)
	}
	if ok.Kind != activity.Called || ok.Agent != "greet" || ok.Peer != n1.PeerID() || ok.Outcome != activity.OK || ok.Duration <= 0 || ok.Payment != nil {
		t.Errorf("call: %+v", ok)
	}
	served := n1.Activity()
	if len(served) == 0 || served[0].Kind != activity.Served || served[0].Agent != "greet" || served[0].Peer != n0.PeerID() || served[0].Outcome != activity.OK {
		t.Errorf("node 1's run: %+v", served)
	}
	st := n0.StatusNode()
	if st.PeerID != n0.PeerID() || st.BridgeURL != n0.BridgeURL() || st.Platform != "sim" || len(st.Peers) != 1 || st.Peers[0] != n1.PeerID() || len(st.Events) != len(calls) {
		t.Errorf("status node: %+v", st)
	}
}

// TestStatusPageOnTheBridge: GET /ui/ is the node's page, under the
// bridge's rules: loopback host names only without a token, the token
// when there is one.
func TestStatusPageOnTheBridge(t *testing.T) {
	n := nodetest.Start(t, nil)
	get := func(path, host, token string) (int, string) {
		req, err := http.NewRequest("GET", n.BridgeURL()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusMovedPermanently {
			return resp.StatusCode, resp.Header.Get("Location")
		}
		return resp.StatusCode, string(b)
	}
	if code, page := get("/ui/", "", ""); code != 200 || !strings.Contains(page, n.PeerID()) || !strings.Contains(page, `id="count-nodes">1<`) {
		t.Fatalf("GET /ui/: %d %.300s", code, page)
	}
	if code, loc := get("/ui", "", ""); code != http.StatusMovedPermanently || loc != "/ui/" {
		t.Fatalf("GET /ui: %d %q", code, loc)
	}
	for _, host := range []string{"localhost:3000", "[::1]:3000"} {
		if code, _ := get("/ui/", host, ""); code != 200 {
			t.Fatalf("loopback host %s: %d", host, code)
		}
	}
	for _, host := range []string{"rebound.example:3000", "127.0.0.1.attacker.example"} { // DNS rebinding
		if code, _ := get("/ui/", host, ""); code != http.StatusMisdirectedRequest {
			t.Fatalf("foreign host %s: %d", host, code)
		}
	}

	const token = "a-token-of-sixteen-chars"
	tn := nodetest.Start(t, func(c *node.Config) { c.APIToken = token })
	n = tn
	if code, _ := get("/ui/", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := get("/ui/", "node.example", token); code != 200 {
		t.Fatalf("token, any host: %d", code)
	}
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestAdvertisedMeansSearchable: once Advertised returns, a deploy's card
// and terms are in the DHT, and another node's first search finds it.
func TestAdvertisedMeansSearchable(t *testing.T) {
	ctx := context.Background()
	nw := nettest.Start(t, 2, nettest.Options{})
	n0, n1 := nw.Nodes[0], nw.Nodes[1]
	a := nettest.Agent{Name: "stamp", Description: "stamps documents with a digest", Tags: []string{"notary"}, Banner: "stamped"}
	if _, _, err := n1.UploadAgent(ctx, a.Manifest(t), a.Module(t)); err != nil {
		t.Fatal(err)
	}
	if err := n1.Advertised(ctx); err != nil {
		t.Fatal(err)
	}
	found, err := n0.Search(ctx, api.SearchRequest{Description: "notary stamps documents"})
	if err != nil || len(found) != 1 || found[0].Name != "stamp" || found[0].PeerID != n1.PeerID() {
		t.Fatalf("first search after Advertised: %+v, %v", found, err)
	}
	if err := n1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n1.Advertised(ctx); err == nil {
		t.Fatal("Advertised on a closed node returned nil")
	}
	off := nodetest.Start(t, func(c *node.Config) { p := false; c.P2P = &p })
	if err := off.Advertised(ctx); err != nil {
		t.Fatalf("without p2p: %v", err)
	}
}
