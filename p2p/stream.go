package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/time/rate"
)

// Defaults of a stream protocol's limits.
const (
	// DefaultReadTimeout bounds how long a handler waits for the request.
	DefaultReadTimeout = 10 * time.Second
	// DefaultStreamTimeout bounds a whole stream, request to response.
	DefaultStreamTimeout = 30 * time.Second
	// DefaultMaxPerPeer bounds one peer's concurrent streams of a protocol.
	DefaultMaxPerPeer = 8
)

// HandlerFunc serves one inbound stream: it reads the request and writes
// the response. Returning an error resets the stream; returning nil closes
// it. ctx ends at the stream's deadline or when the service closes.
type HandlerFunc func(ctx context.Context, s network.Stream) error

// ServiceConfig sets the rules a [Service] applies to every stream.
type ServiceConfig struct {
	// Name is the resource-manager service the streams are accounted to,
	// such as "agentnet.card". Required.
	Name string
	// ReadTimeout bounds the wait for the request: a peer that sends
	// nothing is reset when it passes. Default DefaultReadTimeout, capped
	// at Timeout.
	ReadTimeout time.Duration
	// Timeout bounds the whole stream. Default DefaultStreamTimeout.
	Timeout time.Duration
	// MaxPerPeer bounds one peer's streams in flight; the next is reset at
	// once. Default DefaultMaxPerPeer.
	MaxPerPeer int
	// RatePerPeer limits the streams one peer may open per second, with
	// bursts of BurstPerPeer (default: the rate, at least 1). A stream over
	// the rate is reset at once with StreamRateLimited, before its request
	// is read. Zero means no rate limit; MaxPerPeer still holds.
	RatePerPeer  float64
	BurstPerPeer int
	// Refused, when set, is told of every stream refused before its
	// handler ran and why: RefusedBusy, RefusedRate, RefusedResources or
	// RefusedClosed. It must be fast and safe for concurrent use (a
	// metrics counter).
	Refused func(reason string)
	// Logger receives per-stream failures at debug level. Nil discards.
	Logger *slog.Logger
	// MaxRequestSize caps the request frame the protocol's handler reads;
	// the Service itself does not read it. Each protocol sets its own.
	MaxRequestSize int
}

// Reasons a Service refuses a stream, as given to ServiceConfig.Refused.
const (
	// RefusedBusy: the peer already has MaxPerPeer streams in flight.
	RefusedBusy = "peer_busy"
	// RefusedRate: the peer opens streams faster than RatePerPeer.
	RefusedRate = "rate_limit"
	// RefusedResources: the resource manager refused the stream's service.
	RefusedResources = "resources"
	// RefusedClosed: the service is closing.
	RefusedClosed = "closed"
)

// maxRatedPeers bounds the per-peer rate table. A peer evicted from it
// starts again with a full bucket, which costs an attacker the peer ids
// (and connections, which the resource manager bounds) to cycle through.
const maxRatedPeers = 4096

// Service runs the server side of one stream protocol with the rules every
// agentnet protocol shares: resource accounting, a read deadline and a
// stream deadline, a per-peer bound on concurrent streams, Reset on error
// and Close on success. Each stream runs on its own goroutine (libp2p's), so
// a slow or silent peer never blocks another.
type Service struct {
	cfg    ServiceConfig
	handle HandlerFunc
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	inflight map[peer.ID]int
	rates    *simplelru.LRU[peer.ID, *rate.Limiter] // nil without RatePerPeer
	closed   bool
}

// NewService returns a service that runs fn under cfg's rules. Register
// [Service.ServeStream] with host.SetStreamHandler.
func NewService(cfg ServiceConfig, fn HandlerFunc) *Service {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultStreamTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	cfg.ReadTimeout = min(cfg.ReadTimeout, cfg.Timeout)
	if cfg.MaxPerPeer <= 0 {
		cfg.MaxPerPeer = DefaultMaxPerPeer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Refused == nil {
		cfg.Refused = func(string) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	sv := &Service{cfg: cfg, handle: fn, ctx: ctx, cancel: cancel, inflight: map[peer.ID]int{}}
	if cfg.RatePerPeer > 0 {
		if sv.cfg.BurstPerPeer <= 0 {
			sv.cfg.BurstPerPeer = max(1, int(cfg.RatePerPeer))
		}
		sv.rates, _ = simplelru.NewLRU[peer.ID, *rate.Limiter](maxRatedPeers, nil) // size > 0: cannot fail
	}
	return sv
}

// ServeStream is the network.StreamHandler of the protocol.
func (sv *Service) ServeStream(s network.Stream) {
	remote := s.Conn().RemotePeer()
	if reason := sv.acquire(remote); reason != "" {
		sv.cfg.Refused(reason)
		sv.cfg.Logger.Debug("stream refused", "service", sv.cfg.Name, "peer", remote, "reason", reason)
		_ = s.ResetWithError(network.StreamRateLimited)
		return
	}
	defer sv.wg.Done()
	defer sv.release(remote)
	if err := s.Scope().SetService(sv.cfg.Name); err != nil {
		sv.cfg.Refused(RefusedResources)
		sv.cfg.Logger.Debug("stream refused by resource manager", "service", sv.cfg.Name, "peer", remote, "err", err)
		_ = s.ResetWithError(network.StreamResourceLimitExceeded)
		return
	}
	now := time.Now()
	deadline := now.Add(sv.cfg.Timeout)
	if err := s.SetDeadline(deadline); err != nil {
		_ = s.Reset()
		return
	}
	if err := s.SetReadDeadline(now.Add(sv.cfg.ReadTimeout)); err != nil {
		_ = s.Reset()
		return
	}
	ctx, cancel := context.WithDeadline(sv.ctx, deadline)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if err := sv.handle(ctx, s); err != nil {
		sv.cfg.Logger.Debug("stream failed", "service", sv.cfg.Name, "peer", remote, "err", err)
		_ = s.ResetWithError(network.StreamProtocolViolation)
		return
	}
	_ = s.Close()
}

// acquire takes a stream slot of p, or returns why it cannot. A stream
// refused for concurrency does not spend p's rate.
func (sv *Service) acquire(p peer.ID) (reason string) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	switch {
	case sv.closed:
		return RefusedClosed
	case sv.inflight[p] >= sv.cfg.MaxPerPeer:
		return RefusedBusy
	case sv.rates != nil && !sv.allowLocked(p):
		return RefusedRate
	}
	sv.inflight[p]++
	sv.wg.Add(1)
	return ""
}

// allowLocked spends one token of p's bucket.
func (sv *Service) allowLocked(p peer.ID) bool {
	b, ok := sv.rates.Get(p)
	if !ok {
		b = rate.NewLimiter(rate.Limit(sv.cfg.RatePerPeer), sv.cfg.BurstPerPeer)
		sv.rates.Add(p, b)
	}
	return b.Allow()
}

func (sv *Service) release(p peer.ID) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.inflight[p]--; sv.inflight[p] <= 0 {
		delete(sv.inflight, p)
	}
}

// InFlight returns how many streams peer p has open on this service.
func (sv *Service) InFlight(p peer.ID) int {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.inflight[p]
}

// Close refuses new streams, cancels the context of running handlers and
// waits for them to return. It is idempotent.
func (sv *Service) Close() error {
	sv.mu.Lock()
	sv.closed = true
	sv.mu.Unlock()
	sv.cancel()
	sv.wg.Wait()
	return nil
}

// DefaultCallTimeout bounds a client call whose context has no deadline.
const DefaultCallTimeout = 30 * time.Second

// RoundTrip is the client side of a one-request, one-response protocol: it
// opens a stream to p speaking proto, writes req as one frame, closes its
// write side and reads one response frame of at most max bytes. The stream
// deadline is ctx's deadline or DefaultCallTimeout; cancelling ctx resets the
// stream. On any error the stream is reset.
func RoundTrip(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, req []byte, max int) ([]byte, error) {
	s, err := OpenStream(ctx, h, p, proto)
	if err != nil {
		return nil, err
	}
	defer s.Done()
	if err := WriteFrame(s, req); err != nil {
		s.Fail()
		return nil, fmt.Errorf("%s: send request: %w", proto, err)
	}
	if err := s.CloseWrite(); err != nil {
		s.Fail()
		return nil, fmt.Errorf("%s: close request: %w", proto, err)
	}
	resp, err := ReadFrame(s, max)
	if err != nil {
		s.Fail()
		if errors.Is(err, ErrFrameTooLarge) || errors.Is(err, ErrMalformedFrame) {
			return nil, fmt.Errorf("%s: read response: %w", proto, err)
		}
		return nil, fmt.Errorf("%s: read response: %w", proto, ctxErr(ctx, err))
	}
	return resp, nil
}

// Stream is an outbound stream with its deadline and ctx watch in place.
// Call Done when finished; Fail first if the exchange went wrong.
type Stream struct {
	network.Stream
	stop   func() bool
	failed bool
}

// OpenStream opens a stream to p for proto, dialing if needed. Its deadline
// is ctx's or DefaultCallTimeout from now; cancelling ctx resets it.
func OpenStream(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID) (*Stream, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultCallTimeout)
	}
	s, err := h.NewStream(ctx, p, proto)
	if err != nil {
		return nil, fmt.Errorf("open %s stream to %s: %w", proto, p, ctxErr(ctx, err))
	}
	if err := s.SetDeadline(deadline); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("set %s stream deadline: %w", proto, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	return &Stream{Stream: s, stop: stop}, nil
}

// Fail marks the exchange as failed: Done will reset the stream.
func (s *Stream) Fail() { s.failed = true }

// Done releases the stream: Close after a good exchange, Reset after Fail.
func (s *Stream) Done() {
	s.stop()
	if s.failed {
		_ = s.ResetWithError(network.StreamProtocolViolation)
		return
	}
	_ = s.Close()
}

// ctxErr prefers the context's error, which says why a stream was reset.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return errors.Join(cerr, err)
	}
	return err
}
