package card

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
)

// Router is the part of the DHT a publisher writes to; *dht.IpfsDHT
// implements it.
type Router interface {
	PutValue(ctx context.Context, key string, value []byte, opts ...routing.Option) error
	Provide(ctx context.Context, c cid.Cid, announce bool) error
}

// Template is what a node says about one agent; the publisher adds the
// identity, evidence, seq and times.
type Template struct {
	Name         string
	Description  string
	Tags         []string
	Price        Price
	ModuleSHA256 [32]byte
}

// Publisher defaults.
const (
	DefaultLifetime  = 24 * time.Hour
	DefaultRepublish = 8 * time.Hour
	DefaultReprovide = 22 * time.Hour
	// provideWorkers bounds concurrent Provide calls.
	provideWorkers = 8
	// maxTick bounds how long a failed put or provide waits for a retry.
	maxTick = 30 * time.Second
)

// Option configures a Publisher.
type Option func(*Publisher)

// WithLifetime sets how long a card lives (expires_at - issued_at) and how
// often it is re-issued; take both from the host's p2p.TTL.
func WithLifetime(lifetime, republish time.Duration) Option {
	return func(p *Publisher) { p.lifetime, p.republish = lifetime, republish }
}

// WithReprovide sets how often term provider records are renewed; it must
// be shorter than the network's provide validity.
func WithReprovide(d time.Duration) Option { return func(p *Publisher) { p.reprovide = d } }

// WithClock sets the clock cards are stamped with.
func WithClock(now func() time.Time) Option { return func(p *Publisher) { p.now = now } }

// WithLogger sets the logger; nil discards.
func WithLogger(l *slog.Logger) Option { return func(p *Publisher) { p.log = l } }

// WithAddrs sets where the node's current multiaddrs come from; they go
// into every card issued after.
func WithAddrs(addrs func() []string) Option { return func(p *Publisher) { p.addrs = addrs } }

// Publisher issues a node's cards and keeps them alive: it puts each card
// and the node's index into the DHT, re-issues them (new seq, new evidence
// epoch) every republish interval, provides every term of every card and
// re-provides them (classic Provide never does), retries what failed, and
// withdraws a card with a tombstone. Cards and Card serve the card stream.
type Publisher struct {
	router    Router
	key       crypto.PrivKey
	id        peer.ID
	pub       []byte
	att       attest.Attester
	lifetime  time.Duration
	republish time.Duration
	reprovide time.Duration
	now       func() time.Time
	log       *slog.Logger
	addrs     func() []string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	evMu    sync.Mutex
	evEpoch uint64
	ev      *attest.Evidence

	mu       sync.Mutex
	started  bool
	closed   bool
	agents   map[string]Template
	cards    map[string]*Signed // current cards and live tombstones
	index    *SignedIndex
	dirty    map[string]bool // DHT keys whose last put failed or is pending
	seq      uint64
	provided map[string]time.Time
}

// NewPublisher returns a publisher that signs with key, takes evidence
// from att and writes through r. It starts no goroutine until Start.
func NewPublisher(r Router, key crypto.PrivKey, att attest.Attester, opts ...Option) (*Publisher, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("new publisher: peer id of key: %w", err)
	}
	pub, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		return nil, fmt.Errorf("new publisher: marshal identity key: %w", err)
	}
	p := &Publisher{
		router: r, key: key, id: id, pub: pub, att: att,
		lifetime: DefaultLifetime, republish: DefaultRepublish, reprovide: DefaultReprovide,
		now: time.Now, agents: map[string]Template{}, cards: map[string]*Signed{},
		dirty: map[string]bool{}, provided: map[string]time.Time{},
	}
	for _, o := range opts {
		o(p)
	}
	switch {
	case r == nil || att == nil:
		return nil, fmt.Errorf("new publisher: router and attester are required: %w", ErrSchema)
	case p.lifetime <= 0 || p.lifetime > MaxLifetime || p.republish <= 0 || p.republish >= p.lifetime:
		return nil, fmt.Errorf("new publisher: lifetime %s (cap %s) must exceed republish %s > 0: %w", p.lifetime, MaxLifetime, p.republish, ErrSchema)
	case p.reprovide <= 0:
		return nil, fmt.Errorf("new publisher: reprovide %s: %w", p.reprovide, ErrSchema)
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// Start launches the republish loop. It is idempotent.
func (p *Publisher) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if !p.started {
		p.started = true
		p.wg.Go(p.loop)
	}
	return nil
}

// Close stops republishing and waits for the loop. Records already in the
// DHT live until they expire. It is idempotent.
func (p *Publisher) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	return nil
}

// Publish adds or replaces agents and publishes their cards, the index and
// their terms now. Every template is checked first: one bad template
// changes nothing. A failed put or provide is returned and retried by the
// loop; the agents stay published.
func (p *Publisher) Publish(ctx context.Context, tmpls ...Template) error {
	if len(tmpls) == 0 {
		return nil
	}
	now := p.now()
	ev, err := p.evidence(ctx, Epoch(now))
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	names := map[string]bool{}
	issued := make([]*Signed, 0, len(tmpls))
	seq := p.seq
	for _, t := range tmpls {
		if names[t.Name] {
			p.mu.Unlock()
			return fmt.Errorf("publish: agent %q twice: %w", t.Name, ErrSchema)
		}
		names[t.Name] = true
		seq = max(seq+1, uint64(now.UnixMicro()))
		s, err := p.seal(t, ev, seq, now, false)
		if err != nil {
			p.mu.Unlock()
			return fmt.Errorf("publish: %w", err)
		}
		issued = append(issued, s)
	}
	p.seq = seq
	for i, t := range tmpls {
		p.agents[t.Name] = t
		p.cards[t.Name] = issued[i]
		p.dirty[issued[i].Key()] = true
	}
	err = p.reindexLocked(now)
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return p.flush(ctx, true)
}

// Withdraw stops advertising agent name: its card is replaced by a
// tombstone with a higher seq (live for a full card lifetime, so it
// outlives every copy of the card), the index drops the name, and its terms
// are no longer re-provided.
func (p *Publisher) Withdraw(ctx context.Context, name string) error {
	now := p.now()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if _, ok := p.agents[name]; !ok {
		p.mu.Unlock()
		return fmt.Errorf("withdraw %q: %w", name, ErrUnknownAgent)
	}
	p.seq = max(p.seq+1, uint64(now.UnixMicro()))
	tomb, err := p.seal(Template{Name: name, Price: Price{Amount: "0"}}, attest.Evidence{}, p.seq, now, true)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("withdraw %q: %w", name, err)
	}
	delete(p.agents, name)
	p.cards[name] = tomb
	p.dirty[tomb.Key()] = true
	err = p.reindexLocked(now)
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("withdraw %q: %w", name, err)
	}
	return p.flush(ctx, false)
}

// Cards returns the signed cards of the agents currently advertised,
// sorted by name: what the card stream serves.
func (p *Publisher) Cards() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out [][]byte
	for _, name := range slices.Sorted(maps.Keys(p.agents)) {
		out = append(out, p.cards[name].Raw)
	}
	return out
}

// Card returns the signed card of one advertised agent.
func (p *Publisher) Card(name string) ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.agents[name]; !ok {
		return nil, false
	}
	return p.cards[name].Raw, true
}

// seal issues a card for t. p.mu is held by the caller.
func (p *Publisher) seal(t Template, ev attest.Evidence, seq uint64, now time.Time, withdrawn bool) (*Signed, error) {
	c := &Card{
		PeerID: p.id, Name: t.Name, Description: t.Description, Tags: slices.Clone(t.Tags),
		Price: t.Price, ModuleSHA256: t.ModuleSHA256, Evidence: ev, Epoch: Epoch(now),
		Seq: seq, IssuedAt: now.UTC(), ExpiresAt: now.Add(p.lifetime).UTC(), Withdrawn: withdrawn,
	}
	if p.addrs != nil {
		c.Addrs = p.addrs()
		if len(c.Addrs) > MaxAddrs {
			c.Addrs = c.Addrs[:MaxAddrs]
		}
	}
	return Seal(c, p.key)
}

// reindexLocked issues a new index of the advertised agents.
func (p *Publisher) reindexLocked(now time.Time) error {
	p.seq = max(p.seq+1, uint64(now.UnixMicro()))
	x, err := SealIndex(&Index{
		PeerID: p.id, Names: slices.Collect(maps.Keys(p.agents)), Seq: p.seq,
		IssuedAt: now.UTC(), ExpiresAt: now.Add(p.lifetime).UTC(),
	}, p.key)
	if err != nil {
		return err
	}
	p.index = x
	p.dirty[IndexKey(p.id)] = true
	return nil
}

// evidence returns the TEE's evidence for epoch, asking the attester once
// per epoch.
func (p *Publisher) evidence(ctx context.Context, epoch uint64) (attest.Evidence, error) {
	p.evMu.Lock()
	defer p.evMu.Unlock()
	if p.ev != nil && p.evEpoch == epoch {
		return *p.ev, nil
	}
	ev, err := p.att.Attest(ctx, attest.CardReportData(p.pub, epoch))
	if err != nil {
		return attest.Evidence{}, fmt.Errorf("attest card epoch %d: %w", epoch, err)
	}
	p.ev, p.evEpoch = &ev, epoch
	return ev, nil
}
