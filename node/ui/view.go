package ui

import (
	"maps"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/agentnet/agentnode/node/activity"
	"github.com/agentnet/agentnode/node/api"
)

// maxGraphPeers bounds the vertices of the connection graph: beyond it
// the graph would be a blot, and the node table lists the counts.
const maxGraphPeers = 64

// view is what the templates render: Status digested into display values.
type view struct {
	Title     string
	Facts     []Fact
	Generated string
	Refresh   int64 // milliseconds
	Summary   summary
	Nodes     []nodeView
	Agents    []agentRow
	Events    []eventRow
	Graph     graph
}

type summary struct {
	Nodes, Connections, Agents, Executions, Payments int
	Paid                                             string
}

type label struct {
	Text  string // what is shown
	Title string // the full value, on hover
}

type nodeView struct {
	Label     label
	PeerID    string
	BridgeURL string
	UIURL     string
	Platform  string
	RT        int
	Conns     []label
	Agents    []agentChip
}

type agentChip struct {
	Name, Price string
	Withdrawn   bool
}

type agentRow struct {
	Name, Description, Price string
	Hosts                    []label
}

type eventRow struct {
	Time     string
	Node     label
	Kind     string
	By       string
	What     label
	Peer     label
	Outcome  string
	OK       bool
	Duration string
	Amount   string
	Tx       string
}

type graph struct {
	Size  int
	Nodes []vertex
	Edges []edge
	// Omitted counts the peers left out past maxGraphPeers.
	Omitted int
}

type vertex struct {
	X, Y  float64
	Text  string
	Title string
	Known bool
}

type edge struct{ X1, Y1, X2, Y2 float64 }

// newView digests st for the templates.
func newView(st Status, cfg Config, now time.Time) view {
	v := view{Title: st.Title, Facts: st.Facts, Generated: now.Format("15:04:05"), Refresh: cfg.Refresh.Milliseconds()}
	if v.Title == "" {
		v.Title = "agentnode status"
	}
	names := map[string]string{} // peer id -> label text
	for _, n := range st.Nodes {
		names[n.PeerID] = nodeName(n)
	}
	peerLabel := func(id string) label {
		if id == "" {
			return label{Text: "bridge user", Title: "a user of this node's HTTP bridge"}
		}
		if name, ok := names[id]; ok {
			return label{Text: name, Title: id}
		}
		return label{Text: shortID(id), Title: id}
	}

	edges := map[[2]string]bool{}
	agents := map[string]*agentRow{}
	paid := new(big.Int)
	var events []eventRow
	var evTimes []time.Time
	for _, n := range st.Nodes {
		nv := nodeView{Label: peerLabel(n.PeerID), PeerID: n.PeerID, BridgeURL: n.BridgeURL, Platform: n.Platform, RT: n.RoutingTable}
		if n.BridgeURL != "" {
			nv.UIURL = strings.TrimSuffix(n.BridgeURL, "/") + Prefix
		}
		peers := slices.Clone(n.Peers)
		slices.SortFunc(peers, func(a, b string) int { return strings.Compare(peerLabel(a).Text, peerLabel(b).Text) })
		for _, p := range peers {
			nv.Conns = append(nv.Conns, peerLabel(p))
			edges[pair(n.PeerID, p)] = true
		}
		for _, a := range n.Agents {
			withdrawn := a.Status == api.AgentWithdrawn
			nv.Agents = append(nv.Agents, agentChip{Name: a.Name, Price: a.Price, Withdrawn: withdrawn})
			if withdrawn {
				continue
			}
			v.Summary.Agents++
			row := agents[a.Name]
			if row == nil {
				row = &agentRow{Name: a.Name, Description: a.Description, Price: a.Price}
				agents[a.Name] = row
			}
			row.Hosts = append(row.Hosts, peerLabel(n.PeerID))
		}
		v.Nodes = append(v.Nodes, nv)
		for _, e := range n.Events {
			row := eventRow{Time: e.Time.Format("15:04:05.000"), Node: peerLabel(n.PeerID), Kind: string(e.Kind),
				Outcome: e.Outcome, OK: e.Outcome == activity.OK, Duration: formatDuration(e.Duration)}
			switch {
			case e.Agent != "":
				row.What = label{Text: e.Agent, Title: "agent " + e.Agent}
			case e.Module != "":
				row.What = label{Text: "module " + shortHex(e.Module), Title: "module sha256 " + e.Module}
			}
			if e.Kind == activity.Served || e.Peer != "" {
				row.Peer = peerLabel(e.Peer)
			}
			row.By = e.By
			if e.Kind == activity.Served {
				v.Summary.Executions++
			}
			if p := e.Payment; p != nil {
				row.Amount, row.Tx = p.Amount, p.Transaction
				// A payment shows on both sides (the payer's call, the
				// payee's run): count it once, at the payee.
				if p.Transaction != "" && e.Kind != activity.Called {
					v.Summary.Payments++
					if a, ok := new(big.Int).SetString(p.Amount, 10); ok {
						paid.Add(paid, a)
					}
				}
			}
			events = append(events, row)
			evTimes = append(evTimes, e.Time)
		}
	}
	v.Summary.Nodes = len(st.Nodes)
	v.Summary.Connections = len(edges)
	v.Summary.Paid = paid.String()

	// Events of every node, newest first.
	idx := make([]int, len(events))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return evTimes[b].Compare(evTimes[a]) })
	for _, i := range idx[:min(len(idx), cfg.MaxEvents)] {
		v.Events = append(v.Events, events[i])
	}
	for _, name := range slices.Sorted(maps.Keys(agents)) {
		v.Agents = append(v.Agents, *agents[name])
	}
	v.Graph = newGraph(st.Nodes, peerLabel, edges)
	return v
}

// newGraph lays the nodes, then the other peers they connect to, out on a
// circle (a single node sits in the middle of its peers) and draws every
// connection once.
func newGraph(nodes []Node, peerLabel func(string) label, edges map[[2]string]bool) graph {
	const size, margin = 280, 20
	g := graph{Size: size}
	var ids []string
	known := map[string]bool{}
	for _, n := range nodes {
		if !known[n.PeerID] {
			known[n.PeerID] = true
			ids = append(ids, n.PeerID)
		}
	}
	others := map[string]bool{}
	for _, n := range nodes {
		for _, p := range n.Peers {
			if !known[p] {
				others[p] = true
			}
		}
	}
	ids = append(ids, slices.Sorted(maps.Keys(others))...)
	if len(ids) > maxGraphPeers {
		g.Omitted = len(ids) - maxGraphPeers
		ids = ids[:maxGraphPeers]
	}
	pos := map[string][2]float64{}
	c, r := float64(size)/2, float64(size)/2-margin
	ring := ids
	if len(nodes) == 1 && len(ids) > 1 {
		pos[ids[0]] = [2]float64{c, c}
		ring = ids[1:]
	}
	for i, id := range ring {
		a := 2*math.Pi*float64(i)/float64(len(ring)) - math.Pi/2
		pos[id] = [2]float64{round1(c + r*math.Cos(a)), round1(c + r*math.Sin(a))}
	}
	for _, id := range ids {
		l := peerLabel(id)
		text := "·"
		if known[id] {
			text = shortName(l.Text)
		}
		p := pos[id]
		g.Nodes = append(g.Nodes, vertex{X: p[0], Y: p[1], Text: text, Title: l.Text + " " + l.Title, Known: known[id]})
	}
	for _, k := range slices.SortedFunc(maps.Keys(edges), func(a, b [2]string) int {
		return strings.Compare(a[0]+a[1], b[0]+b[1])
	}) {
		a, okA := pos[k[0]]
		b, okB := pos[k[1]]
		if okA && okB {
			g.Edges = append(g.Edges, edge{a[0], a[1], b[0], b[1]})
		}
	}
	return g
}

func nodeName(n Node) string {
	if n.Name != "" {
		return n.Name
	}
	return shortID(n.PeerID)
}

// shortName is the part of a node's name after its last "-", which fits a
// graph vertex ("node-07" -> "07").
func shortName(s string) string {
	if i := strings.LastIndexByte(s, '-'); i >= 0 && i+1 < len(s) {
		s = s[i+1:]
	}
	if r := []rune(s); len(r) > 4 {
		return string(r[:4])
	}
	return s
}

// shortID abbreviates a peer id to its last 8 characters, the part that
// differs between Ed25519 peer ids (they share the "12D3KooW" prefix).
func shortID(id string) string {
	if len(id) <= 12 {
		return id
	}
	return "…" + id[len(id)-8:]
}

func shortHex(h string) string {
	if len(h) <= 12 {
		return h
	}
	return h[:12] + "…"
}

// pair is an undirected connection's key.
func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < 10*time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
