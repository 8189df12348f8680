package ui_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/agentnet/agentnode/node/activity"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/ui"
)

const (
	peerA = "12D3KooWAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0001"
	peerB = "12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb0002"
	peerX = "12D3KooWXxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx9999"
	tx    = "0x5f1c0ffee0000000000000000000000000000000000000000000000000000abc"
)

// sample is a two-node network in which node-01 ran a paid arxiv call for
// node-00, and node-00 is also connected to a peer outside the list.
func sample() ui.Status {
	when := time.Date(2026, 5, 6, 7, 8, 9, 0, time.Local)
	pay := &api.Payment{Network: "eip155:1337", Payer: "0xPayer", Amount: "10000", Transaction: tx}
	return ui.Status{
		Title: "agentnode testnet",
		Facts: []ui.Fact{{Label: "chain", Value: "eip155:1337"}},
		Nodes: []ui.Node{
			{Name: "node-00", PeerID: peerA, BridgeURL: "http://127.0.0.1:3000", Platform: "sim", RoutingTable: 2,
				Peers:  []string{peerB, peerX},
				Agents: []api.Agent{{Name: "textstats", Price: "2000", Status: api.AgentDeployed, Description: "text statistics"}},
				Events: []activity.Event{{Seq: 1, Time: when, Kind: activity.Called, Agent: "arxiv", Peer: peerB, Outcome: activity.OK,
					Duration: 85 * time.Millisecond, Payment: pay}}},
			{Name: "node-01", PeerID: peerB, BridgeURL: "http://127.0.0.1:3001", Platform: "sim", RoutingTable: 1,
				Peers:  []string{peerA},
				Agents: []api.Agent{{Name: "arxiv", Price: "10000", Status: api.AgentDeployed, Description: "finds arXiv papers"}},
				Events: []activity.Event{
					{Seq: 2, Time: when.Add(-time.Millisecond), Kind: activity.Served, Agent: "arxiv", Peer: peerA, Outcome: activity.OK, Duration: 70 * time.Millisecond, Payment: pay},
					{Seq: 1, Time: when.Add(-time.Second), Kind: activity.Served, Module: strings.Repeat("ab", 32), Outcome: api.CodeTrap},
				}},
		},
	}
}

func serve(t testing.TB, cfg ui.Config, method, target, host string) *http.Response {
	t.Helper()
	h, err := ui.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(method, target, nil)
	if host != "" {
		r.Host = host
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func static(st ui.Status) ui.Source {
	return func(context.Context) (ui.Status, error) { return st, nil }
}

func TestPageShowsNodesAgentsAndPayments(t *testing.T) {
	resp := serve(t, ui.Config{Source: static(sample())}, "GET", "/ui/", "127.0.0.1:3000")
	page := body(t, resp)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`<script src="/ui/app.js" defer></script>`, `data-live="/ui/live"`, // the live refresh
		`<b id="count-nodes">2</b>`, `<b id="count-connections">2</b>`, // A-B and A-X
		`<b id="count-agents">2</b>`, `<b id="count-executions">2</b>`,
		`<b id="count-payments">1</b>`, `<span id="paid">10000</span>`, // the payment counts once, at the payee
		`data-peer="` + peerA + `"`, `data-peer="` + peerB + `"`,
		`<a href="http://127.0.0.1:3001/ui/">http://127.0.0.1:3001</a>`,
		`title="` + peerX + `">…xxxx9999</span>`, // an unknown peer: short id
		`<span class="settled">settled</span> ` + tx,
		`<span class="outcome bad">trap</span>`, "module abababababab…",
		`<dt>chain</dt><dd>eip155:1337</dd>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Newest first across nodes: node-00's call, then node-01's run, then the trap.
	call, run, trap := strings.Index(page, `event called paid`), strings.Index(page, `event served paid`), strings.Index(page, `>trap<`)
	if call < 0 || run < call || trap < run {
		t.Errorf("events out of order: call %d, run %d, trap %d", call, run, trap)
	}
	if n := strings.Count(page, "<line "); n != 2 {
		t.Errorf("graph has %d edges, want 2", n)
	}
}

func TestLiveIsTheFragment(t *testing.T) {
	page := body(t, serve(t, ui.Config{Source: static(sample())}, "GET", "/ui/live", ""))
	if strings.Contains(page, "<html") || strings.Contains(page, "<script") || !strings.Contains(page, `id="count-nodes"`) {
		t.Fatalf("live part: %.200s", page)
	}
}

func TestSingleNodeSitsInTheMiddle(t *testing.T) {
	st := sample()
	st.Nodes = st.Nodes[:1]
	page := body(t, serve(t, ui.Config{Source: static(st)}, "GET", "/ui/", ""))
	if !strings.Contains(page, `<circle cx="140" cy="140" r="11"/>`) {
		t.Fatalf("the only node is not in the middle of its peers")
	}
}

func TestHeadersAndErrors(t *testing.T) {
	cfg := ui.Config{Source: static(sample())}
	for _, tc := range []struct {
		method, target, host string
		status               int
		ctype                string
	}{
		{"GET", "/ui/", "127.0.0.1:3000", 200, "text/html"},
		{"GET", "/ui/", "localhost:3000", 200, "text/html"},
		{"GET", "/ui/", "[::1]:3000", 200, "text/html"},
		{"HEAD", "/ui/", "127.0.0.1", 200, "text/html"},
		{"GET", "/ui/app.js", "127.0.0.1:3000", 200, "text/javascript"},
		{"GET", "/ui/style.css", "127.0.0.1:3000", 200, "text/css"},
		{"GET", "/ui/nope", "127.0.0.1:3000", 404, "text/plain"},
		{"POST", "/ui/", "127.0.0.1:3000", 405, "text/plain"},
	} {
		resp := serve(t, cfg, tc.method, tc.target, tc.host)
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s %s (Host %s): %d %q, want %d %s", tc.method, tc.target, tc.host, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.ctype)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s %s: CSP %q", tc.method, tc.target, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: headers %v", tc.method, tc.target, resp.Header)
		}
	}
	// The host guard is the bridge's (node.TestStatusPageOnTheBridge): the page serves any host.
	if resp := serve(t, cfg, "GET", "/ui/", "node.example:3000"); resp.StatusCode != 200 {
		t.Errorf("any host: %d", resp.StatusCode)
	}
}

func TestSourceFailureIs503(t *testing.T) {
	failing := func(context.Context) (ui.Status, error) { return ui.Status{}, errors.New("secret detail") }
	resp := serve(t, ui.Config{Source: failing}, "GET", "/ui/", "")
	if page := body(t, resp); resp.StatusCode != 503 || strings.Contains(page, "secret detail") {
		t.Fatalf("%d %q", resp.StatusCode, page)
	}
}

func TestSourceGetsABoundedContext(t *testing.T) {
	var deadline time.Time
	src := func(ctx context.Context) (ui.Status, error) {
		deadline, _ = ctx.Deadline()
		return ui.Status{}, nil
	}
	serve(t, ui.Config{Source: src}, "GET", "/ui/", "")
	if deadline.IsZero() || time.Until(deadline) > 10*time.Second {
		t.Fatalf("deadline %v", deadline)
	}
}

func TestNewNeedsASource(t *testing.T) {
	if _, err := ui.New(ui.Config{}); err == nil {
		t.Fatal("no error without a source")
	}
}

func TestEmptyStatus(t *testing.T) {
	page := body(t, serve(t, ui.Config{Source: static(ui.Status{})}, "GET", "/ui/", ""))
	for _, want := range []string{"<title>agentnode status</title>", "No agent deployed yet.", "No execution yet."} {
		if !strings.Contains(page, want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
}

// hostile puts s in every field that carries text from elsewhere (agent
// cards, peer ids, error codes, transaction hashes), in ways that keep the
// page's branches the same for every s.
func hostile(s string) ui.Status {
	st := sample()
	st.Title += s
	st.Facts = append(st.Facts, ui.Fact{Label: "l" + s, Value: "v" + s})
	n := &st.Nodes[1]
	n.Name += s
	n.BridgeURL += "/" + s
	n.Agents[0].Name += s
	n.Agents[0].Description += s
	n.Agents[0].Price = "1" + s
	n.Events[0].Agent += s
	n.Events[0].Outcome = "x" + s
	n.Events[0].By = "b" + s
	n.Events[0].Payment = &api.Payment{Amount: "1" + s, Transaction: "0x" + s}
	n.Events[1].Module += s
	n.Peers = append(n.Peers, "peer"+s)
	return st
}

// shape lists the page's elements and attributes, in order: markup that
// an input smuggled in changes it.
func shape(t testing.TB, page string) []string {
	t.Helper()
	var out []string
	for _, tok := range tags(t, page) {
		s := tok.Type.String() + " " + tok.Data
		for _, a := range tok.Attr {
			s += " " + a.Key
		}
		out = append(out, s)
	}
	return out
}

// tags returns the page's start, self-closing and end tags, in order.
func tags(t testing.TB, page string) []html.Token {
	t.Helper()
	var out []html.Token
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			if !errors.Is(z.Err(), io.EOF) {
				t.Fatalf("tokenize: %v", z.Err())
			}
			return out
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			out = append(out, z.Token())
		}
	}
}

func FuzzPageEscapes(f *testing.F) {
	for _, s := range []string{"x", `<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `</td></tr></table><b>`,
		"javascript:alert(1)", `' onmouseover='x`, "<!--", "]]><svg onload=alert(1)>", "\x00\xff", "&lt;&#60;"} {
		f.Add(s)
	}
	h, err := ui.New(ui.Config{Source: func(ctx context.Context) (ui.Status, error) { return ctx.Value(statusKey{}).(ui.Status), nil }})
	if err != nil {
		f.Fatal(err)
	}
	render := func(tb testing.TB, st ui.Status) string {
		r := httptest.NewRequest("GET", "/ui/", nil)
		r = r.WithContext(context.WithValue(r.Context(), statusKey{}, st))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			tb.Fatalf("status %d", w.Code)
		}
		return w.Body.String()
	}
	want := shape(f, render(f, hostile("x")))
	f.Fuzz(func(t *testing.T, s string) {
		page := render(t, hostile(s))
		got := shape(t, page)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("input %q changed the page's markup", s)
		}
		// A bridge URL is a peer's word: as a whole it must not make a link
		// that runs script (javascript:, data:, vbscript:...).
		st := hostile(s)
		st.Nodes[1].BridgeURL = s
		for _, href := range hrefs(t, render(t, st)) {
			if scheme := linkScheme(href); scheme != "" && scheme != "http" && scheme != "https" {
				t.Fatalf("bridge URL %q made a link with scheme %q: %q", s, scheme, href)
			}
		}
	})
}

// hrefs lists the href attributes of the page's elements.
func hrefs(t testing.TB, page string) []string {
	t.Helper()
	var out []string
	for _, tok := range tags(t, page) {
		for _, a := range tok.Attr {
			if a.Key == "href" {
				out = append(out, a.Val)
			}
		}
	}
	return out
}

// linkScheme is the scheme a browser reads in href (lower case; "" for a
// relative link): it drops leading spaces and control characters, and
// tabs and newlines anywhere (WHATWG URL parsing).
func linkScheme(href string) string {
	href = strings.TrimLeft(href, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\v\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	href = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(href)
	m := schemePrefix.FindStringSubmatch(href)
	if m == nil {
		return ""
	}
	return strings.ToLower(m[1])
}

var schemePrefix = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.\-]*):`)

type statusKey struct{}

func BenchmarkPage(b *testing.B) {
	st := sample()
	for i := range 48 { // a 50-node network
		n := st.Nodes[1]
		n.Name = "node-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		n.PeerID = peerX[:len(peerX)-4] + n.Name[5:]
		st.Nodes = append(st.Nodes, n)
	}
	h, err := ui.New(ui.Config{Source: static(st)})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/ui/", nil)
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}
}

func TestLinkScheme(t *testing.T) {
	for href, want := range map[string]string{
		"javascript:alert(1)": "javascript", " \x01JavaScript:x": "javascript", "java\tscr\nipt:x": "javascript",
		"http://127.0.0.1:3001/ui/": "http", "/ui/": "", "#ZgotmplZ": "", "a/b:c": "",
	} {
		if got := linkScheme(href); got != want {
			t.Errorf("linkScheme(%q) = %q, want %q", href, got, want)
		}
	}
}
