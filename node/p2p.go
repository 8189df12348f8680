package node

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/detect"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/bridge"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/p2p"
	"github.com/agentnet/agentnode/p2p/card"
	"github.com/agentnet/agentnode/p2p/discovery"
	attestproto "github.com/agentnet/agentnode/p2p/proto/attest"
	cardproto "github.com/agentnet/agentnode/p2p/proto/card"
	execproto "github.com/agentnet/agentnode/p2p/proto/exec"
)

// Limits of the node's side of the network.
const (
	// callTimeout bounds a remote call: card lookup, session, execution.
	callTimeout = 2 * time.Minute
	// remoteClients bounds the remote nodes whose sessions are kept warm.
	remoteClients = 256
	// advertiseQueue bounds the card changes waiting to be published.
	advertiseQueue = 64
	// callsPerPeer bounds the calls in flight from this node to another;
	// more wait for a slot.
	callsPerPeer = 4
	// streamsPerPeer bounds one peer's exec and attest streams on this
	// node. It is twice callsPerPeer because a stream counts until its
	// handler has returned, which can be after the caller read the answer
	// and started its next call.
	streamsPerPeer = 2 * callsPerPeer
)

// ErrP2PDisabled is the answer of the network methods of a node started
// with p2p = false.
var ErrP2PDisabled = &bridge.Error{Status: http.StatusServiceUnavailable, Code: api.CodeP2PDisabled,
	Message: "this node runs without the p2p network (p2p = false in its config)"}

// network is the node's part of the p2p network: the libp2p host and its
// DHT, the card publisher, the three stream services, the searcher, and
// the clients of remote nodes.
type network struct {
	host      *p2p.Host
	publisher *card.Publisher
	searcher  *discovery.Searcher
	services  []io.Closer
	verifiers attest.Verifiers
	policy    *attest.Policy
	local     client.Transport
	log       *slog.Logger
	// payer pays remote agents' prices; nil: this node pays nothing.
	payer *client.Payer

	// ops publishes card changes one at a time, in the order the node
	// made them.
	ops    chan func(context.Context)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	clients *simplelru.LRU[peer.ID, *remote]
}

// startP2P joins the network: host and DHT, publisher, stream services
// that serve through the bridge's own code paths, searcher; then it
// advertises the deployed agents. n.net is set first, so a failure
// half-way is closed by Close.
func (n *Node) startP2P(ctx context.Context, br *bridge.Server) error {
	cfg, log := n.cfg, n.log.With("component", "p2p")
	ttl := cfg.ttl()
	lm, err := newP2PMetrics(n.registry)
	if err != nil {
		return err
	}
	h, err := p2p.New(p2p.Config{
		Identity:        n.id.PrivKey(),
		ListenAddrs:     cfg.P2PListen,
		Bootstrap:       cfg.Bootstrap,
		TTL:             ttl,
		MaxMemory:       cfg.P2PMaxMemory,
		MaxFDs:          cfg.P2PMaxFDs,
		ResourceBlocked: lm.resourceBlocked,
		Logger:          log,
	})
	if err != nil {
		return err
	}
	clients, _ := simplelru.NewLRU[peer.ID, *remote](remoteClients, nil) // size > 0: cannot fail
	nw := &network{host: h, policy: n.peerPolicy, log: log, ops: make(chan func(context.Context), advertiseQueue),
		clients: clients, local: localTransport{br: br}, payer: n.remotePayer()}
	nw.ctx, nw.cancel = context.WithCancel(context.Background())
	n.net = nw
	if err := h.Start(ctx); err != nil {
		return err
	}
	if nw.verifiers = cfg.Verifiers; nw.verifiers == nil {
		if nw.verifiers, err = detect.Verifiers(detect.VerifierConfig{}); err != nil {
			return fmt.Errorf("peer evidence verifiers: %w", err)
		}
	}
	lh := h.Libp2p()
	if nw.publisher, err = card.NewPublisher(h.DHT(), n.id.PrivKey(), n.enc.Attester(),
		card.WithLifetime(ttl.CardLifetime, ttl.CardRepublish), card.WithReprovide(ttl.Reprovide),
		card.WithAddrs(func() []string { return addrStrings(lh.Addrs()) }), card.WithLogger(log.With("part", "publisher"))); err != nil {
		return err
	}
	if err := nw.publisher.Start(); err != nil {
		return err
	}
	rt := cfg.P2PReadTimeout.Duration
	rate, burst := cfg.P2PRateLimitPerPeer, cfg.P2PRateLimitBurst
	execOpts := []p2p.Option{p2p.WithReadTimeout(rt), p2p.WithTimeout(max(execproto.DefaultTimeout, cfg.WasmTimeout.Duration+time.Minute)),
		p2p.WithMaxPerPeer(streamsPerPeer), p2p.WithLogger(log),
		p2p.WithPeerRate(rate, burst), p2p.WithRefused(lm.refused(execproto.ID))}
	if cfg.MaxBodyBytes > 0 {
		execOpts = append(execOpts, p2p.WithMaxRequestSize(int(min(cfg.MaxBodyBytes, execproto.MaxResponseSize))))
	}
	nw.services = append(nw.services,
		cardproto.New(lh, nw.publisher, p2p.WithTimeout(rt), p2p.WithLogger(log),
			p2p.WithPeerRate(rate, burst), p2p.WithRefused(lm.refused(cardproto.ID))),
		attestproto.New(lh, attestproto.OpenerFunc(func(ctx context.Context, remote peer.ID, req []byte) ([]byte, error) {
			return sessionReply(br.OpenSession(ctx, bridge.Call{Body: req, Resource: attestproto.ID, Peer: remote.String()}))
		}), p2p.WithTimeout(rt), p2p.WithMaxPerPeer(streamsPerPeer), p2p.WithLogger(log),
			p2p.WithPeerRate(rate, burst), p2p.WithRefused(lm.refused(attestproto.ID))),
		execproto.New(lh, execproto.HandlerFunc(func(ctx context.Context, remote peer.ID, req execproto.Request) execproto.Response {
			rep := br.Exec(ctx, bridge.Call{Header: headerOf(req.Headers), Body: req.Body, Resource: execproto.ID,
				Peer: remote.String(), AgentsOnly: !cfg.P2PAcceptModules})
			return execproto.Response{Status: rep.Status, Headers: flatHeader(rep.Header), Body: rep.Body}
		}), execOpts...),
	)
	if nw.searcher, err = discovery.New(h.DHT(), card.Verifier{Verifiers: nw.verifiers, Policy: nw.policy},
		discovery.WithFetcher(fetcher{self: lh.ID(), pub: nw.publisher, remote: cardproto.Fetcher{Host: lh}}),
		// A cached card must still be live when the cache entry is reused:
		// it was issued at most one republish interval before it was read.
		discovery.WithCacheTTL(min(discovery.DefaultCacheTTL, ttl.CardLifetime-ttl.CardRepublish)),
		discovery.WithLogger(log.With("part", "search"))); err != nil {
		return err
	}
	nw.wg.Go(nw.run)
	n.advertise(n.agents.Deployed()...)
	log.Info("joined the p2p network", "addrs", h.P2PAddrs(), "bootstrap", len(cfg.Bootstrap), "ttl", cfg.P2PTTL)
	return nil
}

// run publishes queued card changes until the network closes.
func (nw *network) run() {
	for {
		select {
		case <-nw.ctx.Done():
			return
		case op := <-nw.ops:
			op(nw.ctx)
		}
	}
}

// enqueue queues a card change; it waits when the queue is full and gives
// up once the network is closing.
func (nw *network) enqueue(op func(context.Context)) {
	select {
	case nw.ops <- op:
	case <-nw.ctx.Done():
	}
}

// ownCardsChanged drops this node's own cards from the search cache once
// the publisher holds new ones (a lookup of the node itself, such as a
// call of its own agent, may have cached the old set just before), so the
// next lookup reads them afresh.
func (nw *network) ownCardsChanged() { nw.searcher.Forget(nw.host.Libp2p().ID()) }

// close stops the services first (no new streams), then the publisher
// (whose records live on until they expire), then the host.
func (nw *network) close() error {
	var errs []error
	for _, s := range nw.services {
		errs = append(errs, s.Close())
	}
	nw.cancel()
	nw.wg.Wait()
	if nw.publisher != nil {
		errs = append(errs, nw.publisher.Close())
	}
	errs = append(errs, nw.host.Close())
	return errors.Join(errs...)
}

// fetcher serves this node's own cards from its publisher, as no stream
// reaches the node itself, and fetches other nodes' over the card stream.
type fetcher struct {
	self   peer.ID
	pub    *card.Publisher
	remote cardproto.Fetcher
}

func (f fetcher) FetchCards(ctx context.Context, p peer.ID) ([]*card.Signed, error) {
	if p != f.self {
		return f.remote.FetchCards(ctx, p)
	}
	var out []*card.Signed
	for _, raw := range f.pub.Cards() {
		c, err := card.Open(raw)
		if err != nil {
			return nil, fmt.Errorf("open own card: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

func addrStrings(as []ma.Multiaddr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// headerOf and flatHeader convert between the exec protocol's headers and
// HTTP's.
func headerOf(m map[string]string) http.Header {
	h := make(http.Header, len(m))
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

func flatHeader(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	return m
}

// sessionReply turns the bridge's session answer into the attest
// protocol's: the body, or a refusal with the bridge's code and message.
func sessionReply(rep bridge.Reply) ([]byte, error) {
	if rep.Status == http.StatusOK {
		return rep.Body, nil
	}
	var e api.Error
	if err := json.Unmarshal(rep.Body, &e); err != nil || e.Error.Code == "" {
		e.Error = api.ErrorDetail{Code: api.CodeInternal, Message: "internal error"}
	}
	return nil, &attestproto.Error{Status: rep.Status, Code: e.Error.Code, Message: e.Error.Message}
}

// P2P returns the node's libp2p host, nil when p2p is off or before Start.
func (n *Node) P2P() *p2p.Host {
	if n.net == nil {
		return nil
	}
	return n.net.host
}

// P2PAddrs returns the node's p2p addresses ending in /p2p/<peer id>: what
// another node lists in bootstrap. Nil when p2p is off.
func (n *Node) P2PAddrs() []string {
	if n.net == nil {
		return nil
	}
	return n.net.host.P2PAddrs()
}

// Search finds agents in the network by description, their cards verified
// under the node's peer policy, best first.
func (n *Node) Search(ctx context.Context, req api.SearchRequest) ([]api.FoundAgent, error) {
	if n.net == nil {
		return nil, ErrP2PDisabled
	}
	res, err := n.net.searcher.Search(ctx, req.Description, req.Limit)
	if errors.Is(err, discovery.ErrBadQuery) {
		return nil, &bridge.Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	out := make([]api.FoundAgent, 0, len(res))
	for _, r := range res {
		f := api.FoundAgent{
			PeerID: r.PeerID.String(), Name: r.Agent, Description: r.Description, Tags: r.Tags,
			Price: r.Price.Amount, Asset: r.Price.Asset, Network: r.Price.Network, PayTo: r.Price.PayTo,
			Platform: string(r.Platform), Score: r.Score, ModuleSHA256: hex.EncodeToString(r.ModuleSHA256),
			Addrs: r.Addrs, ExpiresAt: r.ExpiresAt,
		}
		if f.Tags == nil {
			f.Tags = []string{}
		}
		if f.Addrs == nil {
			f.Addrs = []string{}
		}
		if r.Card != nil && r.Card.Claims != nil && len(r.Card.Claims.Measurements) > 0 {
			f.Measurements = map[string]string{}
			for k, v := range r.Card.Claims.Measurements {
				f.Measurements[k] = v.String()
			}
		}
		if req.Cards && r.Card != nil {
			f.Card = hex.EncodeToString(r.Card.Raw)
		}
		out = append(out, f)
	}
	return out, nil
}

// Peers describes the node's place in the network.
func (n *Node) Peers() api.PeersResponse {
	if n.net == nil {
		return api.PeersResponse{PeerID: n.PeerID(), Addresses: []string{}, Peers: []api.Peer{}}
	}
	h := n.net.host
	out := api.PeersResponse{PeerID: n.PeerID(), Addresses: h.P2PAddrs(), RoutingTable: h.RoutingTableSize(), Peers: []api.Peer{}}
	if out.Addresses == nil {
		out.Addresses = []string{}
	}
	lh := h.Libp2p()
	for _, p := range h.Peers() {
		ap := api.Peer{PeerID: p.String(), Addrs: []string{}}
		if lh != nil {
			for _, a := range lh.Peerstore().Addrs(p) {
				ap.Addrs = append(ap.Addrs, a.String())
			}
		}
		out.Peers = append(out.Peers, ap)
	}
	return out
}

// networkAPI is the bridge's view of the node's network.
type networkAPI struct{ n *Node }

func (a networkAPI) Search(ctx context.Context, req api.SearchRequest) ([]api.FoundAgent, error) {
	return a.n.Search(ctx, req)
}

func (a networkAPI) Peers() api.PeersResponse { return a.n.Peers() }

func (a networkAPI) Call(ctx context.Context, peer, name string, req api.CallRequest) (*client.Receipt, error) {
	return a.n.CallAgent(ctx, peer, name, req)
}

// networkAPI returns the bridge's view of the network, nil when p2p is
// off (a nil interface, which the bridge answers with p2p_disabled).
func (n *Node) networkAPI() bridge.Network {
	if !n.cfg.P2PEnabled() {
		return nil
	}
	return networkAPI{n}
}
