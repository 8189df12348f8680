// Package ui is a node's status page, GET /ui/ on the bridge: the nodes
// and their connections, the agents they advertise, and the recent
// executions and payments with their transaction hashes. It is rendered
// on the server with html/template (every value is escaped for its
// context) and kept live by a small script that re-fetches the page's
// live part every few seconds; there is no build step and nothing is
// loaded from elsewhere (a strict Content-Security-Policy says so).
//
// What the page shows comes from a [Source]: a node shows itself and its
// connections; the testnet gives its first node a source that shows every
// node of the network.
package ui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/agentnet/agentnode/node/activity"
	"github.com/agentnet/agentnode/node/api"
)

// Paths the handler serves; the bridge mounts it under Prefix.
const (
	Prefix   = "/ui/"
	livePath = Prefix + "live"
	jsPath   = Prefix + "app.js"
	cssPath  = Prefix + "style.css"
)

// Defaults of Config.
const (
	DefaultRefresh   = 2 * time.Second
	DefaultMaxEvents = 50
	// statusTimeout bounds one call of the Source.
	statusTimeout = 5 * time.Second
)

// Status is what the page shows.
type Status struct {
	// Title heads the page, e.g. "agentnode testnet".
	Title string
	// Facts are labelled values shown under the title (the chain, the
	// token, where the data lives).
	Facts []Fact
	// Nodes are the nodes to show, the serving node first.
	Nodes []Node
}

// Fact is one labelled value of the page's header.
type Fact struct {
	Label, Value string
}

// Node is one node as the page shows it.
type Node struct {
	// Name labels the node, e.g. "node-03"; empty shows its short peer id.
	Name      string
	PeerID    string
	BridgeURL string
	Platform  string
	// RoutingTable is the size of the node's DHT routing table.
	RoutingTable int
	// Peers are the peer ids the node has open connections to.
	Peers []string
	// Agents are the node's agents (deployed and withdrawn).
	Agents []api.Agent
	// Events are the node's recent activity, newest first.
	Events []activity.Event
}

// Source returns the current status. It is called once per page view and
// per refresh, with a context bounded to a few seconds.
type Source func(ctx context.Context) (Status, error)

// Config configures a Handler.
type Config struct {
	// Source supplies the page's content. Required.
	Source Source
	// Refresh is how often the page's script fetches the live part.
	// Default DefaultRefresh.
	Refresh time.Duration
	// MaxEvents bounds the events shown, newest first. Default
	// DefaultMaxEvents.
	MaxEvents int
	// Logger receives failures of the Source. Nil discards.
	Logger *slog.Logger
}

// Handler serves the status page and its assets.
type Handler struct {
	cfg  Config
	tmpl *template.Template
	js   []byte
	css  []byte
}

//go:embed assets
var assets embed.FS

// New returns the handler of cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Source == nil {
		return nil, errors.New("ui config: no source")
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = DefaultMaxEvents
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tmpl, err := template.ParseFS(assets, "assets/page.html")
	if err != nil {
		return nil, err // the embedded template is fixed: a test parses it
	}
	js, err := assets.ReadFile("assets/app.js")
	if err != nil {
		return nil, err
	}
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		return nil, err
	}
	return &Handler{cfg: cfg, tmpl: tmpl, js: js, css: css}, nil
}

// securityHeaders are sent with every answer: nothing but this origin's
// own script, style and fetches; no framing; no referrer; no caching of a
// page that changes every second.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-store",
}

// ServeHTTP serves GET /ui/ (the page), /ui/live (its live part, which the
// script swaps in), /ui/app.js and /ui/style.css.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the status page takes GET", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case Prefix:
		h.render(w, r, "page")
	case livePath:
		h.render(w, r, "live")
	case jsPath:
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(h.js)
	case cssPath:
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(h.css)
	default:
		http.Error(w, "no page "+r.URL.Path+" (the status page is "+Prefix+")", http.StatusNotFound)
	}
}

// render executes template name over the current status into a buffer
// first, so that a failure is a clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, name string) {
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	st, err := h.cfg.Source(ctx)
	if err != nil {
		h.cfg.Logger.Warn("status page: read status", "err", err)
		http.Error(w, "the node's status is unavailable right now", http.StatusServiceUnavailable)
		return
	}
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, newView(st, h.cfg, time.Now())); err != nil {
		h.cfg.Logger.Error("status page: render", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}
