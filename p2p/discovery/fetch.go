package discovery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/agentnet/agentnode/p2p/card"
	"github.com/libp2p/go-libp2p/core/peer"
)

// fetchAll returns the verified cards of peers, fetched with bounded
// concurrency within the lookup timeout.
func (s *Searcher) fetchAll(ctx context.Context, peers []peer.ID) []*card.Verified {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var (
		mu  sync.Mutex
		out []*card.Verified
		wg  sync.WaitGroup
	)
	work := make(chan peer.ID)
	for range min(fetchWorkers, len(peers)) {
		wg.Go(func() {
			for p := range work {
				cards, err := s.Cards(ctx, p)
				if err != nil {
					s.log.Debug("skip node in search", "peer", p, "err", err)
					continue
				}
				mu.Lock()
				out = append(out, cards...)
				mu.Unlock()
			}
		})
	}
	for _, p := range peers {
		work <- p
	}
	close(work)
	wg.Wait()
	return out
}

// Cards returns the verified, unexpired cards node p advertises: from the
// cache, else over the fetcher, else from the DHT (the node's index, then
// each card). Cards that fail verification are left out.
func (s *Searcher) Cards(ctx context.Context, p peer.ID) ([]*card.Verified, error) {
	now := s.now()
	s.cacheMu.Lock()
	gen := s.forgets
	e, ok := s.cache.Get(p)
	s.cacheMu.Unlock()
	if ok && now.Sub(e.fetched) < s.cacheTTL {
		return live(e.cards, now), nil
	}
	var signed []*card.Signed
	var err error
	if s.fetcher != nil {
		signed, err = s.fetcher.FetchCards(ctx, p)
		if err != nil {
			s.log.Debug("fetch cards over stream", "peer", p, "err", err)
		}
	}
	if s.fetcher == nil || err != nil {
		signed, err = s.dhtCards(ctx, p)
		if err != nil {
			return nil, err
		}
	}
	verified := make([]*card.Verified, 0, len(signed))
	for _, c := range signed {
		if c.PeerID != p {
			continue
		}
		v, err := s.verifier.VerifySigned(ctx, c)
		if err != nil {
			s.log.Debug("card rejected", "peer", p, "agent", c.Name, "err", err)
			continue
		}
		verified = append(verified, v)
	}
	if s.cacheTTL > 0 {
		s.cacheMu.Lock()
		if e, ok := s.cache.Peek(p); !ok || e.gen <= gen {
			s.cache.Add(p, cacheEntry{cards: verified, fetched: now, gen: gen})
		}
		s.cacheMu.Unlock()
	}
	return verified, nil
}

// Agent returns the verified card of agent name on node p.
func (s *Searcher) Agent(ctx context.Context, p peer.ID, name string) (*card.Verified, error) {
	cards, err := s.Cards(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, c := range cards {
		if c.Name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("agent %s/%s: %w", p, name, ErrNotFound)
}

// Forget drops node p's cached cards, for a caller that learned they are
// stale (a call was refused, the node is gone, its cards changed). A fetch
// of p already under way returns what it read but does not cache it.
func (s *Searcher) Forget(p peer.ID) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.forgets++
	s.cache.Add(p, cacheEntry{gen: s.forgets})
}

// dhtCards reads node p's index from the DHT, then its cards in parallel.
func (s *Searcher) dhtCards(ctx context.Context, p peer.ID) ([]*card.Signed, error) {
	raw, err := s.router.GetValue(ctx, card.IndexKey(p), s.valueOpts...)
	if err != nil {
		return nil, fmt.Errorf("read index of %s: %w", p, err)
	}
	idx, err := card.OpenIndex(raw)
	if err != nil {
		return nil, fmt.Errorf("read index of %s: %w", p, err)
	}
	if idx.PeerID != p || !s.now().Before(idx.ExpiresAt) {
		return nil, fmt.Errorf("read index of %s: %w", p, card.ErrExpired)
	}
	var (
		mu   sync.Mutex
		out  []*card.Signed
		errs []error
		wg   sync.WaitGroup
	)
	for _, name := range idx.Names {
		wg.Go(func() {
			raw, err := s.router.GetValue(ctx, card.Key(p, name), s.valueOpts...)
			var c *card.Signed
			if err == nil {
				c, err = card.Open(raw)
			}
			if err == nil && (c.PeerID != p || c.Name != name) {
				err = card.ErrPeerMismatch
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("read card %s/%s: %w", p, name, err))
				return
			}
			out = append(out, c)
		})
	}
	wg.Wait()
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// live returns the cards not yet expired at now.
func live(cards []*card.Verified, now time.Time) []*card.Verified {
	out := make([]*card.Verified, 0, len(cards))
	for _, c := range cards {
		if now.Before(c.ExpiresAt) {
			out = append(out, c)
		}
	}
	return out
}

func (s *Searcher) now() time.Time {
	if s.verifier.Now != nil {
		return s.verifier.Now()
	}
	return time.Now()
}
