package node_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/p2p/p2ptest"
)

// TestP2PExecShedsLikeTheBridge: executions that arrive over the libp2p
// exec stream count against the same max_inflight_executions as the HTTP
// bridge's, and past it they are shed the same way: 503 busy with
// Retry-After, before any decryption, counted as overload. Four peers send
// two spinning modules each against two slots.
func TestP2PExecShedsLikeTheBridge(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) {
		c.MaxConcurrentExecutions, c.MaxInflightExecutions = 1, 2
		c.WasmTimeout = node.Duration{Duration: 400 * time.Millisecond}
		c.P2PAcceptModules = true
	})
	info, err := peer.AddrInfoFromString(n.P2PAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var clients []*client.Client
	for range 4 {
		h := p2ptest.StartHost(t, p2ptest.Config(t)).Libp2p()
		if err := h.Connect(ctx, *info); err != nil {
			t.Fatal(err)
		}
		c, err := client.New(client.Config{Transport: client.NewP2PTransport(h, info.ID), PeerID: info.ID.String(),
			Policy: attest.DevPolicy(), Verifiers: nodetest.Verifiers()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.OpenSession(ctx); err != nil { // sessions first: only executions compete
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		wg    sync.WaitGroup
	)
	for _, c := range clients {
		for range 2 {
			wg.Go(func() {
				_, err := c.Exec(ctx, client.ExecInput{Wasm: wasmtest.InfiniteLoop})
				var apiErr *client.APIError
				if !errors.As(err, &apiErr) {
					t.Errorf("spinning module over p2p: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				codes[apiErr.Status]++
				if apiErr.Status == http.StatusServiceUnavailable && apiErr.Header.Get("Retry-After") == "" {
					t.Error("503 over p2p without Retry-After")
				}
			})
		}
	}
	wg.Wait()
	if codes[http.StatusServiceUnavailable] < 4 || codes[http.StatusUnprocessableEntity] < 1 ||
		codes[http.StatusServiceUnavailable]+codes[http.StatusUnprocessableEntity] != 8 {
		t.Fatalf("8 spinning p2p executions against 2 slots: %v", codes)
	}
	if got := metric(get(t, n.BridgeURL()+"/metrics"), `agentnode_http_rejected_total{reason="overload"}`); int(got) != codes[http.StatusServiceUnavailable] {
		t.Fatalf("the node counted %v sheds, the peers saw %d", got, codes[http.StatusServiceUnavailable])
	}
	if res, err := clients[0].Exec(ctx, client.ExecInput{Wasm: wasmtest.Hello}); err != nil || string(res.Output) != "hello\n" {
		t.Fatalf("after the overload: %v", err)
	}
}
