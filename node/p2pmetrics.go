package node

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// p2pMetrics count what the network side of the node refuses: streams
// past a peer's concurrency bound or rate, and the libp2p resource
// manager's refusals. A limit nobody sees refusing cannot be tuned.
type p2pMetrics struct {
	refusedStreams *prometheus.CounterVec
	blocked        *prometheus.CounterVec
}

func newP2PMetrics(reg *prometheus.Registry) (*p2pMetrics, error) {
	m := &p2pMetrics{
		refusedStreams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentnode_p2p_refused_total",
			Help: "Inbound streams refused before their request was read, by protocol and reason " +
				"(peer_busy: past the per-peer concurrency bound; rate_limit: past p2p_rate_limit_per_peer; resources: refused by the resource manager; closed: node closing).",
		}, []string{"protocol", "reason"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentnode_p2p_resources_blocked_total",
			Help: "Reservations the libp2p resource manager refused (p2p_max_memory, p2p_max_fds), by scope: conn, stream, peer, protocol, service, memory.",
		}, []string{"scope"}),
	}
	for _, c := range []prometheus.Collector{m.refusedStreams, m.blocked} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register p2p metrics: %w", err)
		}
	}
	return m, nil
}

// refused returns the refusal counter of one protocol, for its service.
func (m *p2pMetrics) refused(protocol string) func(reason string) {
	return func(reason string) { m.refusedStreams.WithLabelValues(protocol, reason).Inc() }
}

func (m *p2pMetrics) resourceBlocked(scope string) { m.blocked.WithLabelValues(scope).Inc() }
