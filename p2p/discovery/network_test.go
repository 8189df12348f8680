package discovery_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/p2p"
	"github.com/agentnet/agentnode/p2p/card"
	"github.com/agentnet/agentnode/p2p/discovery"
	"github.com/agentnet/agentnode/p2p/p2ptest"
	cardproto "github.com/agentnet/agentnode/p2p/proto/card"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// descriptions are the agents of the test network, two per node.
var descriptions = []string{
	"Translates English text into French",
	"Summarizes long news articles in three sentences",
	"Transcribes audio recordings of meetings",
	"Forecasts tomorrow's weather for a city",
	"Converts currencies at today's exchange rates",
	"Generates unit tests for Go functions",
	"Detects spam in email messages",
	"Extracts tables from PDF invoices",
	"Recommends books similar to a given title",
	"Solves sudoku puzzles step by step",
	"Classifies photos of plants by species",
	"Writes haiku poems about a topic",
	"Checks Solidity contracts for reentrancy bugs",
	"Plans train journeys across Europe",
	"Computes the nutrition facts of a recipe",
	"Answers questions about tax law in Germany",
	"Resizes and compresses JPEG images",
	"Tracks parcel deliveries by tracking number",
	"Scores the sentiment of customer reviews",
	"Formats SQL queries and explains their plans",
}

// agentNode is a host with what the node would wire on it: a publisher,
// the card stream and a searcher.
type agentNode struct {
	host   *p2p.Host
	key    crypto.PrivKey
	pub    *card.Publisher
	search *discovery.Searcher
}

func wire(t testing.TB, h *p2p.Host, key crypto.PrivKey, opts ...discovery.Option) *agentNode {
	t.Helper()
	ttl := h.TTL()
	pub, err := card.NewPublisher(h.DHT(), key, p2ptest.NewAttester(t),
		card.WithLifetime(ttl.CardLifetime, ttl.CardRepublish), card.WithReprovide(ttl.Reprovide), card.WithAddrs(h.P2PAddrs))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	svc := cardproto.New(h.Libp2p(), pub)
	t.Cleanup(func() { _ = svc.Close(); _ = pub.Close() })
	opts = append([]discovery.Option{discovery.WithFetcher(cardproto.Fetcher{Host: h.Libp2p()})}, opts...)
	s, err := discovery.New(h.DHT(), card.Verifier{Verifiers: p2ptest.Verifiers(), Policy: attest.DevPolicy()}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &agentNode{host: h, key: key, pub: pub, search: s}
}

// startAgentNetwork starts n hosts with ttl, wires each and publishes two
// agents per node: node i serves agent-i-0 and agent-i-1 with
// descriptions[2i] and descriptions[2i+1].
func startAgentNetwork(t testing.TB, n int, ttl p2p.TTL, opts ...discovery.Option) []*agentNode {
	t.Helper()
	keys := make([]crypto.PrivKey, n)
	nw := p2ptest.StartNetwork(t, n, func(i int, cfg *p2p.Config) {
		cfg.TTL = ttl
		keys[i] = cfg.Identity
	})
	nodes := make([]*agentNode, n)
	for i, h := range nw.Hosts {
		nodes[i] = wire(t, h, keys[i], opts...)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, nd := range nodes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			errs[i] = nd.pub.Publish(ctx, template(i, 0), template(i, 1))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d publish: %v", i, err)
		}
	}
	return nodes
}

func template(node, j int) card.Template {
	return card.Template{Name: fmt.Sprintf("agent-%d-%d", node, j), Description: descriptions[(2*node+j)%len(descriptions)],
		Tags: []string{fmt.Sprintf("node%d", node)}, Price: card.Price{Amount: "0"}}
}

func found(res []discovery.Result, p peer.ID, name string) int {
	return slices.IndexFunc(res, func(r discovery.Result) bool { return r.PeerID == p && r.Agent == name })
}

// TestSearchRecall: 10 nodes with 2 agents each; from every node a search
// for every agent's description finds it, first.
func TestSearchRecall(t *testing.T) {
	if testing.Short() {
		t.Skip("10-node network")
	}
	ttl := p2p.TestnetTTL()
	nodes := startAgentNetwork(t, 10, ttl)
	ctx := context.Background()
	total, hits, first := 0, 0, 0
	for i, from := range nodes {
		for j, owner := range nodes {
			for k := range 2 {
				name := fmt.Sprintf("agent-%d-%d", j, k)
				res, err := from.search.Search(ctx, descriptions[2*j+k], 5)
				if err != nil {
					t.Fatalf("node %d search: %v", i, err)
				}
				total++
				switch idx := found(res, owner.host.ID(), name); idx {
				case -1:
					t.Errorf("node %d: %q not found for %q", i, name, descriptions[2*j+k])
				case 0:
					first++
					hits++
				default:
					hits++
				}
				for _, r := range res {
					if r.Platform != attest.PlatformSim || r.Card.Claims == nil {
						t.Fatalf("unverified result %+v", r)
					}
				}
			}
		}
	}
	t.Logf("recall %d/%d, ranked first %d/%d", hits, total, first, total)
	if hits != total || first != total {
		t.Fatalf("recall %d/%d, first %d/%d", hits, total, first, total)
	}
}

// TestNodeLeavesAndReturns: a node that goes down disappears from results
// once its cards expire; restarted with the same identity it republishes
// with a higher seq and is found again.
func TestNodeLeavesAndReturns(t *testing.T) {
	ttl := p2ptest.ShortTTL()
	nodes := startAgentNetwork(t, 4, ttl, discovery.WithCacheTTL(0))
	ctx := context.Background()
	gone := nodes[3]
	goneID := gone.host.ID()
	query := descriptions[6] // agent-3-0
	res, err := nodes[0].search.Search(ctx, query, 3)
	if err != nil || found(res, goneID, "agent-3-0") != 0 {
		t.Fatalf("before leaving: %+v %v", res, err)
	}
	oldCard := mustDHTCard(t, nodes[0].host, goneID, "agent-3-0")

	_ = gone.pub.Close()
	_ = gone.host.Close()
	left := time.Now()
	deadline := left.Add(ttl.CardLifetime + 5*time.Second)
	for {
		res, err := nodes[0].search.Search(ctx, query, 3)
		if err != nil {
			t.Fatal(err)
		}
		if found(res, goneID, "agent-3-0") < 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node still in results %s after leaving", time.Since(left))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("gone from results %s after leaving (card lifetime %s)", time.Since(left).Round(time.Millisecond), ttl.CardLifetime)
	// The others are still found.
	if res, err := nodes[1].search.Search(ctx, descriptions[0], 3); err != nil || found(res, nodes[0].host.ID(), "agent-0-0") != 0 {
		t.Fatalf("other node lost: %+v %v", res, err)
	}

	// Restart with the same identity.
	cfg := p2ptest.Config(t)
	cfg.Identity, cfg.TTL = gone.key, ttl
	cfg.Bootstrap = nodes[0].host.P2PAddrs()
	h := p2ptest.StartHost(t, cfg)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := h.WaitReady(wctx, 3); err != nil {
		t.Fatal(err)
	}
	back := wire(t, h, gone.key, discovery.WithCacheTTL(0))
	if err := back.pub.Publish(wctx, template(3, 0), template(3, 1)); err != nil {
		t.Fatal(err)
	}
	newCard := mustDHTCard(t, nodes[0].host, goneID, "agent-3-0")
	if newCard.Seq <= oldCard.Seq {
		t.Fatalf("restarted node republished seq %d, had %d", newCard.Seq, oldCard.Seq)
	}
	res, err = nodes[0].search.Search(ctx, query, 3)
	if err != nil || found(res, goneID, "agent-3-0") != 0 {
		t.Fatalf("after restart: %+v %v", res, err)
	}
}

func mustDHTCard(t *testing.T, h *p2p.Host, p peer.ID, name string) *card.Signed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := h.DHT().GetValue(ctx, card.Key(p, name))
	if err != nil {
		t.Fatalf("get card %s/%s: %v", p, name, err)
	}
	c, err := card.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// BenchmarkSearch: a 3-term query over 10 nodes with 2 agents each. "cold"
// has the card cache off, so every search looks up the providers of each
// term, fetches the cards of every node found and verifies them; "cached"
// is the steady state of a node that searched within the last 30 s.
func BenchmarkSearch(b *testing.B) {
	nodes := startAgentNetwork(b, 10, p2p.TestnetTTL())
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cold", 0}, {"cached", discovery.DefaultCacheTTL}} {
		b.Run(bc.name, func(b *testing.B) {
			searchers := make([]*discovery.Searcher, len(nodes))
			for i, nd := range nodes {
				s, err := discovery.New(nd.host.DHT(), card.Verifier{Verifiers: p2ptest.Verifiers(), Policy: attest.DevPolicy()},
					discovery.WithFetcher(cardproto.Fetcher{Host: nd.host.Libp2p()}), discovery.WithCacheTTL(bc.ttl))
				if err != nil {
					b.Fatal(err)
				}
				searchers[i] = s
			}
			const query = "translate english text" // 3 terms
			if got := len(discovery.QueryTerms(query)); got != 3 {
				b.Fatalf("query has %d terms", got)
			}
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			i := 0
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				res, err := searchers[i%len(searchers)].Search(ctx, query, 5)
				if err != nil || len(res) == 0 || res[0].Agent != "agent-0-0" {
					b.Fatalf("search: %v %v", res, err)
				}
				lat = append(lat, time.Since(start))
				i++
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
		})
	}
}
