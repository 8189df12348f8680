package node

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/agentnet/agentnode/node/activity"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/bridge"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/ui"
)

// The status page and the activity it shows.

// statusPage returns the handler of GET /ui/: the configured Status
// source, or this node alone. The bridge guards it as every route: without
// an API token it answers only under a loopback host name, so that a web
// page the user visits cannot read the status through a DNS name rebound
// to 127.0.0.1.
func (n *Node) statusPage() (http.Handler, error) {
	src := n.cfg.Status
	if src == nil {
		src = n.selfStatus
	}
	return ui.New(ui.Config{Source: src, Logger: n.log.With("component", "ui")})
}

// selfStatus is the default status page: this node, its connections, its
// agents and its activity.
func (n *Node) selfStatus(context.Context) (ui.Status, error) {
	return ui.Status{Title: "agentnode " + n.PeerID(), Nodes: []ui.Node{n.StatusNode()}}, nil
}

// StatusNode describes the node for a status page: peer id, bridge,
// platform, routing table, connected peers, agents and recent activity.
func (n *Node) StatusNode() ui.Node {
	p := n.Peers()
	s := ui.Node{PeerID: n.PeerID(), BridgeURL: n.BridgeURL(), RoutingTable: p.RoutingTable, Agents: n.Agents(), Events: n.Activity()}
	if n.claims != nil {
		s.Platform = string(n.claims.Platform)
	}
	for _, q := range p.Peers {
		s.Peers = append(s.Peers, q.PeerID)
	}
	return s
}

// Activity returns the node's recent executions, calls and payments,
// newest first (at most activity.DefaultSize).
func (n *Node) Activity() []activity.Event { return n.activity.Recent(0) }

// recordCall adds a call this node made to the activity: a user's call
// through the bridge (by is empty) or an agent-to-agent call of its agent
// by. A failed call records the code the bridge answers it with.
func (n *Node) recordCall(p peer.ID, agent, by string, start time.Time, res *client.Result, err error) {
	e := activity.Event{Kind: activity.Called, Agent: agent, Peer: p.String(), By: by, Outcome: activity.OK, Duration: time.Since(start)}
	var notFound *unknownAgentError
	switch {
	case errors.As(err, &notFound):
		e.Outcome = api.CodeUnknownAgent
	case err != nil:
		e.Outcome = api.CodeInternal
		var be *bridge.Error
		if errors.As(callError(p, err), &be) {
			e.Outcome = be.Code
		}
	case res.Payment != nil:
		e.Payment = res.Payment
	}
	n.activity.Add(e)
}
