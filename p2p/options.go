package p2p

import (
	"log/slog"
	"time"
)

// Option configures a stream service. The protocol packages (p2p/proto/...)
// take these in their constructors and apply them over their own defaults.
type Option func(*ServiceConfig)

// Apply returns c with opts applied in order.
func (c ServiceConfig) Apply(opts ...Option) ServiceConfig {
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithTimeout sets the stream deadline.
func WithTimeout(d time.Duration) Option { return func(c *ServiceConfig) { c.Timeout = d } }

// WithReadTimeout bounds the wait for the request.
func WithReadTimeout(d time.Duration) Option { return func(c *ServiceConfig) { c.ReadTimeout = d } }

// WithMaxRequestSize caps the request frame the protocol reads.
func WithMaxRequestSize(n int) Option { return func(c *ServiceConfig) { c.MaxRequestSize = n } }

// WithMaxPerPeer bounds one peer's concurrent streams.
func WithMaxPerPeer(n int) Option { return func(c *ServiceConfig) { c.MaxPerPeer = n } }

// WithPeerRate limits the streams one peer may open per second, with
// bursts of burst (0: the rate); streams over it are reset unread. Zero
// sets no rate; the per-peer concurrency bound holds anyway.
func WithPeerRate(perSecond float64, burst int) Option {
	return func(c *ServiceConfig) { c.RatePerPeer, c.BurstPerPeer = perSecond, burst }
}

// WithRefused sets the function told of every stream refused before its
// request was read, with the reason (RefusedBusy, ...): the node counts
// them in its metrics.
func WithRefused(fn func(reason string)) Option { return func(c *ServiceConfig) { c.Refused = fn } }

// WithLogger sets the logger; nil discards.
func WithLogger(l *slog.Logger) Option { return func(c *ServiceConfig) { c.Logger = l } }
