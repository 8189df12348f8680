package attest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// CacheConfig configures a Cache.
type CacheConfig struct {
	// TTL bounds how long a verdict is reused; zero means one hour. A
	// verdict never outlives Claims.ValidUntil either.
	TTL time.Duration
	// Size is the number of verdicts kept (least recently used go first);
	// zero means 1024.
	Size int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Cache remembers successful verifications so that a peer presenting the
// same evidence for the same binding again (a session resumed, a card
// re-fetched) costs a hash instead of a signature chain. A verdict is keyed
// by the peer, the platform, the exact quote bytes and the expected report
// data, so any change in what a peer presents is verified afresh; it is
// kept until the TTL or the earliest certificate or collateral expiry of
// its claims, whichever comes first. Failures are never cached. The
// policy's age rule is re-applied on every hit. Safe for concurrent use.
type Cache struct {
	vs  Verifiers
	p   *Policy
	ttl time.Duration
	now func() time.Time
	lru *lru.Cache[[32]byte, cacheEntry]
}

type cacheEntry struct {
	claims  *Claims
	expires time.Time
}

// NewCache returns a Cache verifying misses with vs under p (nil means
// DefaultPolicy).
func NewCache(vs Verifiers, p *Policy, cfg CacheConfig) *Cache {
	if p == nil {
		p = DefaultPolicy()
	}
	if cfg.TTL <= 0 {
		cfg.TTL = time.Hour
	}
	if cfg.Size <= 0 {
		cfg.Size = 1024
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l, _ := lru.New[[32]byte, cacheEntry](cfg.Size) // errors only for size <= 0
	return &Cache{vs: vs, p: p, ttl: cfg.TTL, now: cfg.Now, lru: l}
}

// Verify returns the cached claims for (peer, ev, want) if a verdict is
// still fresh, and otherwise verifies with Verifiers.Verify and caches the
// result. The returned claims are the caller's to modify.
func (c *Cache) Verify(ctx context.Context, peer string, ev Evidence, want ReportData) (*Claims, error) {
	key := cacheKey(peer, ev, want)
	now := c.now()
	if e, ok := c.lru.Get(key); ok {
		if now.Before(e.expires) {
			if err := c.p.Check(e.claims); err != nil {
				return nil, err
			}
			return cloneClaims(e.claims), nil
		}
		c.lru.Remove(key)
	}
	claims, err := c.vs.Verify(ctx, ev, want, c.p)
	if err != nil {
		return nil, err
	}
	exp := now.Add(c.ttl)
	if !claims.ValidUntil.IsZero() && claims.ValidUntil.Before(exp) {
		exp = claims.ValidUntil
	}
	if now.Before(exp) {
		c.lru.Add(key, cacheEntry{claims: cloneClaims(claims), expires: exp})
	}
	return claims, nil
}

// Len returns the number of cached verdicts, fresh or not yet evicted.
func (c *Cache) Len() int { return c.lru.Len() }

func cacheKey(peer string, ev Evidence, want ReportData) [32]byte {
	h := sha256.New()
	for _, b := range [][]byte{[]byte(peer), []byte(ev.Platform), ev.Quote, want[:]} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func cloneClaims(c *Claims) *Claims {
	d := *c
	d.Measurements = maps.Clone(c.Measurements)
	for k, v := range d.Measurements {
		d.Measurements[k] = slices.Clone(v)
	}
	d.Notes = slices.Clone(c.Notes)
	return &d
}
