package card

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// tick is how often the loop looks for work: a quarter of the shortest
// interval, so a renewal is never late by more than that, and at most
// maxTick, so a failed put is retried soon.
func (p *Publisher) tick() time.Duration {
	return max(min(p.republish/4, p.reprovide/4, maxTick), 10*time.Millisecond)
}

func (p *Publisher) loop() {
	t := time.NewTicker(p.tick())
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			if err := p.renew(p.ctx); err != nil && p.ctx.Err() == nil {
				p.log.Warn("renew agent cards", "err", err)
			}
		}
	}
}

// renew re-issues the cards and index that are due, forgets expired
// tombstones, and flushes what is pending.
func (p *Publisher) renew(ctx context.Context) error {
	now := p.now()
	p.mu.Lock()
	var due []string
	for name := range p.agents {
		if now.Sub(p.cards[name].IssuedAt) >= p.republish {
			due = append(due, name)
		}
	}
	for name, c := range p.cards {
		if c.Withdrawn && !now.Before(c.ExpiresAt) {
			delete(p.cards, name)
			delete(p.dirty, c.Key())
		}
	}
	indexDue := p.index != nil && now.Sub(p.index.IssuedAt) >= p.republish
	p.mu.Unlock()

	var errs []error
	if len(due) > 0 || indexDue {
		if err := p.reissue(ctx, now, due); err != nil {
			errs = append(errs, err)
		}
	}
	if err := p.flush(ctx, true); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// reissue signs new cards (new seq, current epoch's evidence) for the
// named agents that are still advertised, and a new index.
func (p *Publisher) reissue(ctx context.Context, now time.Time, names []string) error {
	ev, err := p.evidence(ctx, Epoch(now))
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	var errs []error
	for _, name := range names {
		t, ok := p.agents[name]
		if !ok {
			continue // withdrawn meanwhile
		}
		p.seq = max(p.seq+1, uint64(now.UnixMicro()))
		s, err := p.seal(t, ev, p.seq, now, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("reissue %q: %w", name, err))
			continue
		}
		p.cards[name] = s
		p.dirty[s.Key()] = true
	}
	if err := p.reindexLocked(now); err != nil {
		errs = append(errs, fmt.Errorf("reissue index: %w", err))
	}
	return errors.Join(errs...)
}

// flush puts every pending record and, when provide is set, provides every
// term not provided within the reprovide interval. What fails stays
// pending for the next tick.
func (p *Publisher) flush(ctx context.Context, provide bool) error {
	type item struct {
		key string
		val []byte
	}
	p.mu.Lock()
	var items []item
	for key := range p.dirty {
		if v := p.valueLocked(key); v != nil {
			items = append(items, item{key, v})
		} else {
			delete(p.dirty, key)
		}
	}
	var terms []string
	if provide {
		seen := map[string]bool{}
		now := p.now()
		for _, name := range slices.Sorted(maps.Keys(p.agents)) {
			for _, t := range Terms(&p.cards[name].Card) {
				if !seen[t] && now.Sub(p.provided[t]) >= p.reprovide {
					terms = append(terms, t)
				}
				seen[t] = true
			}
		}
	}
	p.mu.Unlock()

	var (
		errMu sync.Mutex
		errs  []error
		wg    sync.WaitGroup
	)
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	for _, it := range items {
		wg.Go(func() {
			if err := p.router.PutValue(ctx, it.key, it.val); err != nil {
				fail(fmt.Errorf("put %s: %w", it.key, err))
				return
			}
			p.mu.Lock()
			if bytes.Equal(p.valueLocked(it.key), it.val) {
				delete(p.dirty, it.key)
			}
			p.mu.Unlock()
		})
	}
	work := make(chan string)
	for range min(provideWorkers, len(terms)) {
		wg.Go(func() {
			for t := range work {
				if err := p.router.Provide(ctx, TermCID(t), true); err != nil {
					fail(fmt.Errorf("provide term %q: %w", t, err))
					continue
				}
				p.mu.Lock()
				p.provided[t] = p.now()
				p.mu.Unlock()
			}
		})
	}
	for _, t := range terms {
		work <- t
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("publish %d records and %d terms: %w", len(items), len(terms), errors.Join(errs...))
	}
	return nil
}

// valueLocked returns the current signed value of a DHT key, nil if none.
func (p *Publisher) valueLocked(key string) []byte {
	_, name, err := ParseKey(key)
	switch {
	case err != nil:
		return nil
	case name == "":
		if p.index == nil {
			return nil
		}
		return p.index.Raw
	}
	if c, ok := p.cards[name]; ok {
		return c.Raw
	}
	return nil
}
