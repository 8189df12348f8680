package bridge

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/agentnet/agentnode/node/api"
)

// guard applies the bridge-wide checks before routing: browsers kept out,
// the bearer token, the per-IP rate limit. /healthz stays open so that a
// supervisor can probe a node without its token.
//
// Browsers: any web page its user opens can reach a loopback bridge. It
// may send cross-origin requests that need no preflight (a text/plain
// POST), and, once its own DNS name resolves to 127.0.0.1, read the
// answers as same-origin. The bridge is for local programs, which send no
// Origin: a request whose Origin is not the bridge itself is refused, and a
// bridge without a token answers only to a loopback Host name.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One request id from here on: the client's, or a new one that
		// the handlers then see as the client's.
		id := requestID(r)
		r.Header.Set("X-Request-Id", id)
		w.Header().Set("X-Request-Id", id)
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		refuse := func(reason string) {
			s.metrics.rejected.WithLabelValues(reason).Inc()
			s.log.Debug("request refused", "request_id", id, "reason", reason, "method", r.Method, "path", r.URL.Path, "remote", clientIP(r))
		}
		if s.cfg.APIToken == "" && !loopbackHost(r.Host) {
			refuse("host")
			writeJSON(w, http.StatusMisdirectedRequest, api.Error{Error: api.ErrorDetail{Code: api.CodeMisdirected,
				Message: "this bridge has no api_token and answers only to a loopback host name (127.0.0.1, [::1], localhost)"}})
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r.Host) {
			refuse("origin")
			writeJSON(w, http.StatusForbidden, api.Error{Error: api.ErrorDetail{Code: api.CodeForbiddenOrigin,
				Message: "requests from web pages of other origins are refused: the bridge serves local programs, which send no Origin"}})
			return
		}
		if s.cfg.APIToken != "" && !validToken(r.Header.Get("Authorization"), s.cfg.APIToken) {
			refuse("unauthorized")
			writeJSON(w, http.StatusUnauthorized, api.Error{Error: api.ErrorDetail{Code: api.CodeUnauthorized,
				Message: "this bridge needs Authorization: Bearer <api_token>"}})
			return
		}
		if s.limiter != nil && !s.limiter.allow(clientIP(r)) {
			refuse("rate_limit")
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

// loopbackHost reports whether a Host header names this machine's
// loopback interface.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin reports whether an Origin header names the bridge itself (a
// page the bridge served, such as its status page).
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, host)
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
