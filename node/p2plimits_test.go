package node_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/p2p/p2ptest"
	cardproto "github.com/agentnet/agentnode/p2p/proto/card"
)

// TestP2PPeerRateLimit: with p2p_rate_limit_per_peer set, a peer that
// opens streams faster than the rate is refused past its burst, each
// refusal is counted in agentnode_p2p_refused_total by protocol and
// reason, and the node keeps serving.
func TestP2PPeerRateLimit(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) {
		c.P2PRateLimitPerPeer, c.P2PRateLimitBurst = 1, 2
		c.P2PMaxMemory, c.P2PMaxFDs = 256<<20, 1024
	})
	h := p2ptest.StartHost(t, p2ptest.Config(t)).Libp2p()
	info, err := peer.AddrInfoFromString(n.P2PAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Connect(ctx, *info); err != nil {
		t.Fatal(err)
	}
	ok := 0
	for range 6 {
		if _, err := cardproto.Fetch(ctx, h, info.ID, ""); err == nil {
			ok++
		}
	}
	if ok < 2 || ok > 3 {
		t.Fatalf("%d of 6 back-to-back card fetches served, want the burst of 2 (or 3)", ok)
	}
	body := get(t, n.BridgeURL()+"/metrics")
	sample := `agentnode_p2p_refused_total{protocol="` + cardproto.ID + `",reason="rate_limit"}`
	if got := metric(body, sample); int(got) != 6-ok {
		t.Fatalf("%s = %v, want %d\n%s", sample, got, 6-ok, grep(body, "agentnode_p2p"))
	}
	if _, err := nodetest.Client(t, n.BridgeURL()).OpenSession(ctx); err != nil {
		t.Fatalf("the bridge stopped serving: %v", err)
	}
}

// TestP2PLimitConfigRejectsNegatives: a negative limit is a config error,
// not a silent default.
func TestP2PLimitConfigRejectsNegatives(t *testing.T) {
	for _, mut := range []func(*node.Config){
		func(c *node.Config) { c.P2PRateLimitPerPeer = -1 },
		func(c *node.Config) { c.P2PRateLimitBurst = -1 },
		func(c *node.Config) { c.P2PMaxMemory = -1 },
		func(c *node.Config) { c.P2PMaxFDs = -1 },
	} {
		c := node.Config{DataDir: t.TempDir(), TEE: "sim"}
		mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "negative") {
			t.Errorf("%+v: %v", c, err)
		}
	}
	c, err := node.ParseConfig([]byte("p2p_rate_limit_per_peer = 5.5\np2p_rate_limit_burst = 10\np2p_max_memory = 268435456\np2p_max_fds = 2048\n"))
	if err != nil || c.P2PRateLimitPerPeer != 5.5 || c.P2PRateLimitBurst != 10 || c.P2PMaxMemory != 256<<20 || c.P2PMaxFDs != 2048 {
		t.Fatalf("parse: %+v %v", c, err)
	}
}
