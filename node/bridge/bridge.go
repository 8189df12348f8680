// Package bridge is the node's local HTTP API. It mirrors the routes of the
// system agentnode replaces (create_keypair, x402_execute/verifiable/wasm,
// ...) with sound cryptography underneath, and adds /v1 routes, health and
// metrics. Every route is in the table of [Server.routes]; handlers return
// errors and one function renders them as JSON (see errors.go).
package bridge

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/node/activity"
	"github.com/agentnet/agentnode/node/api"
)

// Config configures a Server. Enclave, NodeInfo and Registry are required.
type Config struct {
	Enclave *enclave.Enclave
	// NodeInfo reports the node for GET /v1/node.
	NodeInfo func() api.NodeInfo
	// Registry holds the node's metrics; the bridge registers its own in it
	// and serves it on GET /metrics.
	Registry *prometheus.Registry
	// MaxBodyBytes caps every request body. Default 16 MiB: a 4 MiB module,
	// base64 inside the sealed JSON, hex on the wire.
	MaxBodyBytes int64
	// APIToken, when set, is required as "Authorization: Bearer <token>"
	// on every route but GET /healthz.
	APIToken string
	// RatePerIP limits requests per second from one client address, with
	// bursts of RateBurst (default: the rate, at least 1). Zero: no limit.
	RatePerIP float64
	RateBurst int
	// MaxInflightExecutions bounds executions taken in (running or waiting
	// for the executor); more are shed with 503. Default 64.
	MaxInflightExecutions int
	// Payments charges for executions; nil means free.
	Payments Payments
	// Facilitator, when set, is served under /facilitator/ (POST /verify,
	// POST /settle, GET /supported): the node's x402 facilitator for other
	// servers.
	Facilitator http.Handler
	// Agents is the node's agent directory (deploy, list, withdraw, and
	// per-agent limits); nil answers those routes 503.
	Agents Agents
	// Network is the p2p network (search, peers, remote calls); nil when
	// p2p is off, which those routes answer with 503 p2p_disabled.
	Network Network
	// AgentRuns scopes the runs of deployed agents for their
	// agent-to-agent calls; nil runs them without (every call is refused).
	AgentRuns AgentRuns
	// Activity, when set, records every run the bridge executes (agent,
	// caller, outcome, payment) for the status page.
	Activity *activity.Log
	// UI, when set, is the status page (node/ui), served under /ui/.
	UI     http.Handler
	Logger *slog.Logger
}

// Server serves the bridge routes.
type Server struct {
	cfg     Config
	enc     *enclave.Enclave
	log     *slog.Logger
	metrics *metrics
	mux     *http.ServeMux
	limiter *ipLimiter
	execs   *admission
	// methods lists the methods of each routed path, so that a request
	// with another method gets 405 rather than 404.
	methods map[string][]string
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Enclave == nil:
		return nil, errors.New("bridge config: no enclave")
	case cfg.NodeInfo == nil:
		return nil, errors.New("bridge config: no node info")
	case cfg.Registry == nil:
		return nil, errors.New("bridge config: no metrics registry")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxInflightExecutions <= 0 {
		cfg.MaxInflightExecutions = 64
	}
	m, err := newMetrics(cfg.Registry, cfg.Enclave)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, enc: cfg.Enclave, log: cfg.Logger, metrics: m, mux: http.NewServeMux(), methods: map[string][]string{},
		execs: &admission{max: int64(cfg.MaxInflightExecutions)}}
	if cfg.RatePerIP > 0 {
		s.limiter = newIPLimiter(cfg.RatePerIP, cfg.RateBurst)
	}
	s.routes()
	return s, nil
}

// routes is the bridge's whole route table.
func (s *Server) routes() {
	// Seed routes: same paths and field names as the system we replace.
	s.handle("POST /encrypt/create_keypair", s.handleCreateKeypair(false))
	s.handle("POST /verifiable/encrypt/create_keypair", s.handleCreateKeypair(true))
	s.handle("POST /x402_execute/verifiable/wasm", s.handleExec)
	s.handle("POST /x402_policy/unsafe/python", s.handlePolicy)
	s.handle("POST /search", s.handleSearch)
	s.handle("POST /agent/deploy", s.handleDeploy)

	// Node routes.
	s.handle("GET /healthz", s.handleHealth)
	s.handle("GET /v1/node", s.handleNode)
	s.handle("GET /v1/agents", s.handleAgents)
	s.handle("DELETE /v1/agents/{name}", s.handleWithdraw)
	s.handle("POST /v1/agents/{peer}/{name}/call", s.handleCall)
	s.handle("GET /v1/peers", s.handlePeers)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	s.methods["/metrics"] = []string{"GET"}
	if s.cfg.Facilitator != nil {
		s.facilitatorRoutes()
	}
	if s.cfg.UI != nil {
		s.uiRoutes()
	}

	s.handle("/", s.handleNotFound)
}

// Handler returns the bridge's HTTP handler.
func (s *Server) Handler() http.Handler { return s.guard(s.mux) }

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleNode(w http.ResponseWriter, _ *http.Request) error {
	info := s.cfg.NodeInfo()
	info.Sessions = s.enc.Sessions()
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) handleNotFound(_ http.ResponseWriter, r *http.Request) error {
	if methods, ok := s.methods[r.URL.Path]; ok {
		allow := strings.Join(methods, ", ")
		return &Error{Status: http.StatusMethodNotAllowed, Code: api.CodeMethodNotAllowed,
			Message: r.URL.Path + " takes " + allow, Header: http.Header{"Allow": {allow}}}
	}
	return &Error{Status: http.StatusNotFound, Code: api.CodeNotFound, Message: "no route " + r.Method + " " + r.URL.Path}
}
