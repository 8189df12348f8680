package p2p

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// DefaultListenAddrs is where a host listens when Config.ListenAddrs is
// empty: loopback on an ephemeral port, so that a host built without an
// explicit address is never reachable from the network by accident. A node
// meant to be reached lists its addresses.
var DefaultListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}

// Defaults of the Config fields that state one.
const (
	DefaultUserAgent  = "agentnode/0.1"
	DefaultConnLow    = 100
	DefaultConnHigh   = 400
	DefaultConnGrace  = 30 * time.Second
	DefaultBucketSize = 20
)

// Config describes a host. The zero value is not usable: Identity is
// required. Every other field has a default, stated on the field, applied by
// [New] before anything opens.
type Config struct {
	// Identity is the node's Ed25519 identity key. Its public key is the
	// peer id, the signer of agent cards and the key bound into card
	// evidence. Required.
	Identity crypto.PrivKey

	// ListenAddrs are the multiaddrs to listen on. Default
	// DefaultListenAddrs (loopback, ephemeral port).
	ListenAddrs []string

	// EnableQUIC adds the QUIC v1 transport next to TCP; list a
	// /udp/<port>/quic-v1 address in ListenAddrs to accept it. Off by
	// default: TCP + Noise + yamux is all a node needs.
	EnableQUIC bool

	// Bootstrap lists the peers to join the network through, as multiaddrs
	// ending in /p2p/<peer id>. Empty means this host starts a network of
	// its own that others join. The public IPFS network is never contacted.
	Bootstrap []string

	// UserAgent is announced through identify. Default DefaultUserAgent.
	UserAgent string

	// ConnLow and ConnHigh are the connection manager's watermarks: above
	// ConnHigh connections it trims down to ConnLow, sparing connections
	// younger than ConnGrace. Defaults DefaultConnLow, DefaultConnHigh,
	// DefaultConnGrace.
	ConnLow, ConnHigh int
	ConnGrace         time.Duration

	// MaxMemory (bytes) and MaxFDs scale the resource manager's default
	// limits. Zero means autoscale to the machine (1/8 of memory, half the
	// file descriptors), which over-commits when many hosts share a process.
	MaxMemory int64
	MaxFDs    int
	// UnlimitedResources turns the resource manager's limits off, for
	// single-process testnets only. The stream protocols keep their own
	// per-peer bounds.
	UnlimitedResources bool
	// ResourceBlocked, when set, is told of every reservation the
	// resource manager refuses, by scope: "conn", "stream", "peer",
	// "protocol", "service" or "memory". It must be fast and safe for
	// concurrent use (a metrics counter).
	ResourceBlocked func(scope string)

	// TTL sets record lifetimes. Every node of a network must use the same
	// profile, because storing servers enforce it. Zero means ProductionTTL.
	TTL TTL

	// BucketSize is the Kademlia k. Default DefaultBucketSize (20).
	BucketSize int

	// Now is the clock the card validator checks expiry against. Nil means
	// time.Now.
	Now func() time.Time

	// Logger receives lifecycle events. Nil discards them.
	Logger *slog.Logger
}

// TTL is a record-lifetime profile: how long storing servers keep provider
// and value records, and how often a publisher renews its own. The same
// profile must run on every node of a network.
type TTL struct {
	// ProvideValidity is how long a server keeps a provider record.
	ProvideValidity time.Duration `toml:"provide_validity"`
	// Reprovide is how often a publisher renews its provider records
	// (classic Provide never does it by itself). Less than ProvideValidity.
	Reprovide time.Duration `toml:"reprovide"`
	// MaxRecordAge is how long a server keeps a value record after
	// receiving it.
	MaxRecordAge time.Duration `toml:"max_record_age"`
	// CardLifetime is expires_at - issued_at of a published card.
	CardLifetime time.Duration `toml:"card_lifetime"`
	// CardRepublish is how often a publisher re-issues its cards. Less
	// than CardLifetime; CardLifetime/3 leaves two chances to succeed.
	CardRepublish time.Duration `toml:"card_republish"`
}

// TestnetTTL is the short profile of notes/p2p.md §4: a node that leaves
// disappears from search within a quarter of an hour.
func TestnetTTL() TTL {
	return TTL{
		ProvideValidity: 10 * time.Minute,
		Reprovide:       4 * time.Minute,
		MaxRecordAge:    30 * time.Minute,
		CardLifetime:    15 * time.Minute,
		CardRepublish:   5 * time.Minute,
	}
}

// ProductionTTL keeps the DHT defaults (48 h) for server-side records and
// gives cards a day of life, re-issued every 8 hours.
func ProductionTTL() TTL {
	return TTL{
		ProvideValidity: 48 * time.Hour,
		Reprovide:       22 * time.Hour,
		MaxRecordAge:    48 * time.Hour,
		CardLifetime:    24 * time.Hour,
		CardRepublish:   8 * time.Hour,
	}
}

// ParseTTL returns the profile named "testnet" or "production".
func ParseTTL(name string) (TTL, error) {
	switch name {
	case "testnet":
		return TestnetTTL(), nil
	case "production", "":
		return ProductionTTL(), nil
	}
	return TTL{}, fmt.Errorf("parse ttl profile %q (want testnet or production): %w", name, ErrInvalidConfig)
}

// Validate reports whether the profile is coherent.
func (t TTL) Validate() error {
	switch {
	case t.ProvideValidity <= 0 || t.Reprovide <= 0 || t.MaxRecordAge <= 0 || t.CardLifetime <= 0 || t.CardRepublish <= 0:
		return fmt.Errorf("ttl: every duration must be positive: %w", ErrInvalidConfig)
	case t.Reprovide >= t.ProvideValidity:
		return fmt.Errorf("ttl: reprovide %s must be shorter than provide validity %s: %w", t.Reprovide, t.ProvideValidity, ErrInvalidConfig)
	case t.CardRepublish >= t.CardLifetime:
		return fmt.Errorf("ttl: card republish %s must be shorter than card lifetime %s: %w", t.CardRepublish, t.CardLifetime, ErrInvalidConfig)
	case t.CardLifetime > t.MaxRecordAge:
		return fmt.Errorf("ttl: card lifetime %s exceeds max record age %s, servers would drop live cards: %w", t.CardLifetime, t.MaxRecordAge, ErrInvalidConfig)
	}
	return nil
}

// withDefaults returns c with every zero field set to its default, after
// checking the fields that have none. It opens nothing.
func (c Config) withDefaults() (Config, []ma.Multiaddr, []peer.AddrInfo, error) {
	if c.Identity == nil {
		return c, nil, nil, fmt.Errorf("config: identity key is required: %w", ErrInvalidConfig)
	}
	if c.Identity.Type() != crypto.Ed25519 {
		return c, nil, nil, fmt.Errorf("config: identity key is %s, want Ed25519: %w", c.Identity.Type(), ErrInvalidConfig)
	}
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = DefaultListenAddrs
	}
	listen := make([]ma.Multiaddr, 0, len(c.ListenAddrs))
	for _, s := range c.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return c, nil, nil, fmt.Errorf("config: listen address %q: %w", s, err)
		}
		listen = append(listen, a)
	}
	boot, err := ParseAddrInfos(c.Bootstrap)
	if err != nil {
		return c, nil, nil, fmt.Errorf("config: bootstrap: %w", err)
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.ConnLow == 0 {
		c.ConnLow = DefaultConnLow
	}
	if c.ConnHigh == 0 {
		c.ConnHigh = DefaultConnHigh
	}
	if c.ConnGrace == 0 {
		c.ConnGrace = DefaultConnGrace
	}
	if c.ConnLow < 0 || c.ConnHigh < c.ConnLow {
		return c, nil, nil, fmt.Errorf("config: connection watermarks low %d high %d: %w", c.ConnLow, c.ConnHigh, ErrInvalidConfig)
	}
	if c.MaxMemory < 0 || c.MaxFDs < 0 {
		return c, nil, nil, fmt.Errorf("config: negative resource limit: %w", ErrInvalidConfig)
	}
	if c.TTL == (TTL{}) {
		c.TTL = ProductionTTL()
	}
	if err := c.TTL.Validate(); err != nil {
		return c, nil, nil, fmt.Errorf("config: %w", err)
	}
	if c.BucketSize == 0 {
		c.BucketSize = DefaultBucketSize
	}
	if c.BucketSize < 2 {
		return c, nil, nil, fmt.Errorf("config: bucket size %d: %w", c.BucketSize, ErrInvalidConfig)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, listen, boot, nil
}

// ParseAddrInfos parses multiaddrs ending in /p2p/<peer id> and merges the
// addresses of the same peer.
func ParseAddrInfos(addrs []string) ([]peer.AddrInfo, error) {
	mas := make([]ma.Multiaddr, 0, len(addrs))
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("parse peer address %q: %w", s, err)
		}
		mas = append(mas, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("parse peer addresses (each must end in /p2p/<peer id>): %w", err)
	}
	return infos, nil
}
