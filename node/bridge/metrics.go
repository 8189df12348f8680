package bridge

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentnet/agentnode/enclave"
)

type metrics struct {
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	executions *prometheus.CounterVec
	sessions   prometheus.Counter
	rejected   *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, enc *enclave.Enclave) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentnode_http_requests_total", Help: "Bridge requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "agentnode_http_request_duration_seconds", Help: "Bridge request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"route"}),
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentnode_executions_total", Help: "Executions by outcome.",
		}, []string{"outcome"}),
		sessions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agentnode_sessions_created_total", Help: "Sessions opened.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentnode_http_rejected_total", Help: "Requests refused before routing or execution, by reason (unauthorized, rate_limit, overload, origin, host).",
		}, []string{"reason"}),
	}
	live := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "agentnode_sessions", Help: "Sessions held by the enclave.",
	}, func() float64 { return float64(enc.Sessions()) })
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.executions, m.sessions, m.rejected, live} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register bridge metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) execution(err error) { m.executions.WithLabelValues(outcome(err)).Inc() }
