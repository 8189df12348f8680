package enclave

import (
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// session is one client's attested channel: a fresh HPKE key the client
// seals requests to, the client's key results are sealed to, and the
// request ids already executed (each runs at most once).
type session struct {
	id      ID
	key     *seal.PrivateKey
	client  *seal.PublicKey
	expires time.Time

	mu   sync.Mutex
	used map[ID]struct{}
}

// sessionTable is a bounded, expiring table of sessions. When full, the
// least recently used session is dropped: its client opens a new one.
type sessionTable struct {
	ttl         time.Duration
	maxRequests int
	now         func() time.Time

	mu  sync.Mutex
	lru *simplelru.LRU[ID, *session]
}

func newSessionTable(max, maxRequests int, ttl time.Duration, now func() time.Time) (*sessionTable, error) {
	l, err := simplelru.NewLRU[ID, *session](max, nil)
	if err != nil {
		return nil, fmt.Errorf("create session table: %w", err)
	}
	return &sessionTable{ttl: ttl, maxRequests: maxRequests, now: now, lru: l}, nil
}

func (t *sessionTable) create(key *seal.PrivateKey, client *seal.PublicKey) (*session, error) {
	s := &session{key: key, client: client, expires: t.now().Add(t.ttl), used: map[ID]struct{}{}}
	if _, err := rand.Read(s.id[:]); err != nil {
		return nil, fmt.Errorf("create session id: %w", err)
	}
	t.mu.Lock()
	t.lru.Add(s.id, s)
	t.mu.Unlock()
	return s, nil
}

// get returns a live session; an expired one is removed on the way.
func (t *sessionTable) get(id ID) (*session, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.lru.Get(id)
	if !ok {
		return nil, fmt.Errorf("session %s: %w", id, ErrSessionNotFound)
	}
	if !t.now().Before(s.expires) {
		t.lru.Remove(id)
		return nil, fmt.Errorf("session %s: %w", id, ErrSessionExpired)
	}
	return s, nil
}

func (t *sessionTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}

// seen reports whether request already ran in s.
func (s *session) seen(request ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.used[request]
	return ok
}

// claim marks request as run. Exactly one of any number of concurrent
// claims of one request id succeeds.
func (s *session) claim(request ID, max int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.used[request]; ok {
		return fmt.Errorf("request %s: %w", request, ErrReplay)
	}
	if len(s.used) >= max {
		return fmt.Errorf("session %s ran %d requests: %w", s.id, max, ErrSessionExhausted)
	}
	s.used[request] = struct{}{}
	return nil
}
