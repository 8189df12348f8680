// Package discovery finds agents by description. A search normalizes the
// query with the same card.Normalize the publishers index with, looks every
// term's provider records up in parallel, fetches the cards of the nodes
// found (over the card stream from connected nodes, from the DHT
// otherwise), verifies each card (signature, expiry, attestation evidence
// against the caller's policy), ranks the survivors with BM25F over name,
// tags and description, and returns the top k.
//
// Verified cards are cached per node for a short while (default 30 s, and
// never past a card's expiry), so repeated searches cost one provider
// lookup per term; Forget drops a node's entry when its cards are known to
// have changed.
package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/p2p/card"
	"github.com/hashicorp/golang-lru/v2"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
)

// Router is the part of the DHT a searcher reads; *dht.IpfsDHT implements
// it.
type Router interface {
	FindProvidersAsync(ctx context.Context, key cid.Cid, count int) <-chan peer.AddrInfo
	GetValue(ctx context.Context, key string, opts ...routing.Option) ([]byte, error)
}

// Fetcher fetches a node's cards directly; proto/card.Fetcher implements
// it over the card stream. It should fail fast for nodes it cannot reach
// cheaply, as the searcher then reads the DHT.
type Fetcher interface {
	FetchCards(ctx context.Context, p peer.ID) ([]*card.Signed, error)
}

// Defaults.
const (
	DefaultTopK             = 10
	DefaultProvidersPerTerm = 50
	DefaultLookupTimeout    = 5 * time.Second
	DefaultMaxPeers         = 64
	DefaultCacheTTL         = 30 * time.Second
	// MaxQueryTerms caps the terms of a query that are looked up.
	MaxQueryTerms = 16
	// MaxQueryLen caps the query text.
	MaxQueryLen = 4096
	// cacheSize bounds the nodes whose cards are cached.
	cacheSize = 4096
	// fetchWorkers bounds concurrent card fetches.
	fetchWorkers = 16
)

// Option configures a Searcher.
type Option func(*Searcher)

// WithFetcher fetches cards from reachable nodes directly instead of the
// DHT: fresher, and a proof the node is up.
func WithFetcher(f Fetcher) Option { return func(s *Searcher) { s.fetcher = f } }

// WithProvidersPerTerm bounds the providers read per term (default 50).
func WithProvidersPerTerm(n int) Option { return func(s *Searcher) { s.perTerm = n } }

// WithLookupTimeout bounds the provider lookups and, separately, the card
// fetches of one search (default 5 s).
func WithLookupTimeout(d time.Duration) Option { return func(s *Searcher) { s.timeout = d } }

// WithMaxPeers bounds the nodes whose cards one search fetches, the ones
// matching most terms first (default 64).
func WithMaxPeers(n int) Option { return func(s *Searcher) { s.maxPeers = n } }

// WithCacheTTL sets how long a node's verified cards are reused (default
// 30 s); zero turns the cache off.
func WithCacheTTL(d time.Duration) Option { return func(s *Searcher) { s.cacheTTL = d } }

// WithValueOptions passes routing options (such as dht.Quorum) to every
// DHT GetValue. The default walks the whole lookup path, so that a newer
// card or a tombstone is never missed.
func WithValueOptions(opts ...routing.Option) Option {
	return func(s *Searcher) { s.valueOpts = opts }
}

// WithLogger sets the logger; nil discards.
func WithLogger(l *slog.Logger) Option { return func(s *Searcher) { s.log = l } }

// Searcher runs searches. It is safe for concurrent use.
type Searcher struct {
	router    Router
	verifier  card.Verifier
	fetcher   Fetcher
	perTerm   int
	timeout   time.Duration
	maxPeers  int
	cacheTTL  time.Duration
	valueOpts []routing.Option
	log       *slog.Logger

	// cacheMu orders cache writes against Forget: a fetch that began
	// before p was forgotten must not cache what it read.
	cacheMu sync.Mutex
	cache   *lru.Cache[peer.ID, cacheEntry]
	forgets uint64
}

// cacheEntry is a node's verified cards, or the mark Forget leaves so that
// fetches already under way do not cache stale cards: no cards, fetched
// never (the zero time, older than any TTL).
type cacheEntry struct {
	cards   []*card.Verified
	fetched time.Time
	gen     uint64
}

// New returns a searcher reading r and trusting cards that v accepts
// (v.Policy is the caller's attestation policy).
func New(r Router, v card.Verifier, opts ...Option) (*Searcher, error) {
	s := &Searcher{router: r, verifier: v, perTerm: DefaultProvidersPerTerm, timeout: DefaultLookupTimeout,
		maxPeers: DefaultMaxPeers, cacheTTL: DefaultCacheTTL}
	for _, o := range opts {
		o(s)
	}
	switch {
	case r == nil:
		return nil, fmt.Errorf("new searcher: router is required: %w", ErrConfig)
	case len(v.Verifiers) == 0:
		return nil, fmt.Errorf("new searcher: no attestation verifiers: %w", ErrConfig)
	case s.perTerm <= 0 || s.timeout <= 0 || s.maxPeers <= 0 || s.cacheTTL < 0:
		return nil, fmt.Errorf("new searcher: limits must be positive: %w", ErrConfig)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	cache, err := lru.New[peer.ID, cacheEntry](cacheSize)
	if err != nil {
		return nil, fmt.Errorf("new searcher: %w", err)
	}
	s.cache = cache
	return s, nil
}

// Result is one agent found.
type Result struct {
	PeerID       peer.ID         `json:"peer_id"`
	Agent        string          `json:"agent"`
	Description  string          `json:"description"`
	Tags         []string        `json:"tags"`
	Price        card.Price      `json:"price"`
	Platform     attest.Platform `json:"platform"`
	ModuleSHA256 attest.HexBytes `json:"module_sha256"`
	Addrs        []string        `json:"addrs"`
	ExpiresAt    time.Time       `json:"expires_at"`
	Score        float64         `json:"score"`
	// Card is the verified card with its evidence claims.
	Card *card.Verified `json:"-"`
}

func resultOf(v *card.Verified, score float64) Result {
	return Result{
		PeerID: v.PeerID, Agent: v.Name, Description: v.Description, Tags: slices.Clone(v.Tags),
		Price: v.Price, Platform: v.Claims.Platform, ModuleSHA256: slices.Clone(v.ModuleSHA256[:]),
		Addrs: slices.Clone(v.Addrs), ExpiresAt: v.ExpiresAt, Score: score, Card: v,
	}
}

// QueryTerms returns the distinct index terms of a query, at most
// MaxQueryTerms: what Search looks up.
func QueryTerms(query string) []string {
	var out []string
	for _, t := range card.Normalize(query) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
		if len(out) == MaxQueryTerms {
			break
		}
	}
	return out
}

// Search returns up to k agents (k <= 0 means DefaultTopK) whose cards
// match query, best first. Nodes that cannot be reached or whose cards do
// not verify are left out; an error means the search itself could not
// run.
func (s *Searcher) Search(ctx context.Context, query string, k int) ([]Result, error) {
	if len(query) > MaxQueryLen {
		return nil, fmt.Errorf("search: query of %d bytes, cap %d: %w", len(query), MaxQueryLen, ErrBadQuery)
	}
	terms := QueryTerms(query)
	if len(terms) == 0 {
		return nil, fmt.Errorf("search %q: no searchable words: %w", query, ErrBadQuery)
	}
	if k <= 0 {
		k = DefaultTopK
	}
	peers := s.providers(ctx, terms)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("search %q: %w", query, err)
	}
	cards := s.fetchAll(ctx, peers)
	ranked := rank(terms, cards)
	if len(ranked) > k {
		ranked = ranked[:k]
	}
	return ranked, nil
}

// providers looks every term up in parallel and returns the nodes found,
// those matching more terms first, at most maxPeers.
func (s *Searcher) providers(ctx context.Context, terms []string) []peer.ID {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var (
		mu   sync.Mutex
		hits = map[peer.ID]int{}
		wg   sync.WaitGroup
	)
	for _, t := range terms {
		wg.Go(func() {
			// Drain to the end: an undrained channel blocks the query.
			for ai := range s.router.FindProvidersAsync(ctx, card.TermCID(t), s.perTerm) {
				mu.Lock()
				hits[ai.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	peers := make([]peer.ID, 0, len(hits))
	for p := range hits {
		peers = append(peers, p)
	}
	slices.SortFunc(peers, func(a, b peer.ID) int {
		if hits[a] != hits[b] {
			return hits[b] - hits[a]
		}
		return cmpPeer(a, b)
	})
	if len(peers) > s.maxPeers {
		peers = peers[:s.maxPeers]
	}
	return peers
}

func cmpPeer(a, b peer.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
