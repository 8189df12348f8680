package bridge

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/agentnet/agentnode/node/api"
)

// guard applies the bridge-wide checks before routing: the bearer token
// and the per-IP rate limit. /healthz stays open so that a supervisor can
// probe a node without its token.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		if s.cfg.APIToken != "" && !validToken(r.Header.Get("Authorization"), s.cfg.APIToken) {
			s.metrics.rejected.WithLabelValues("unauthorized").Inc()
			writeJSON(w, http.StatusUnauthorized, api.Error{Error: api.ErrorDetail{Code: api.CodeUnauthorized,
				Message: "this bridge needs Authorization: Bearer <api_token>"}})
			return
		}
		if s.limiter != nil && !s.limiter.allow(clientIP(r)) {
			s.metrics.rejected.WithLabelValues("rate_limit").Inc()
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, api.Error{Error: api.ErrorDetail{Code: api.CodeRateLimited,
				Message: "too many requests from this address; retry after a second"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// validToken compares in constant time, so the comparison leaks nothing
// about how much of a guess was right.
func validToken(header, token string) bool {
	got, ok := strings.CutPrefix(header, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ipLimiter is a token bucket per client address. The table is bounded: an
// address evicted from it starts again with a full bucket, which costs an
// attacker the addresses to cycle through.
type ipLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets *simplelru.LRU[string, *rate.Limiter]
}

func newIPLimiter(perSecond float64, burst int) *ipLimiter {
	if burst <= 0 {
		burst = max(1, int(perSecond))
	}
	l, _ := simplelru.NewLRU[string, *rate.Limiter](65536, nil) // size > 0: cannot fail
	return &ipLimiter{limit: rate.Limit(perSecond), burst: burst, buckets: l}
}

func (l *ipLimiter) allow(ip string) bool {
	l.mu.Lock()
	b, ok := l.buckets.Get(ip)
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets.Add(ip, b)
	}
	l.mu.Unlock()
	return b.Allow()
}

// admission bounds the executions the bridge has taken in (running or
// waiting for the executor). Past the bound a request is shed at once with
// 503 and Retry-After, before any decryption: under overload the node
// answers quickly instead of queueing until clients time out.
type admission struct {
	max      int64
	inflight atomic.Int64
}

func (a *admission) enter() bool {
	if a.inflight.Add(1) > a.max {
		a.inflight.Add(-1)
		return false
	}
	return true
}

func (a *admission) leave() { a.inflight.Add(-1) }

// errOverloaded is the answer of a shed request.
func errOverloaded(retry time.Duration) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: api.CodeBusy,
		Message: "node is at its execution limit; retry shortly",
		Header:  http.Header{"Retry-After": {strconv.Itoa(max(1, int(retry.Seconds())))}}}
}
