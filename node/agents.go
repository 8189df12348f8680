package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	kb "github.com/libp2p/go-libp2p-kbucket"

	"github.com/agentnet/agentnode/node/agentstore"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/bridge"
	"github.com/agentnet/agentnode/p2p/card"
)

// openAgents loads app_path: every deployed agent is validated (compiled)
// before the node starts, and advertised once the network is up.
func (n *Node) openAgents(ctx context.Context) (*agentstore.Store, error) {
	s, err := agentstore.Open(ctx, agentstore.Config{
		Dir:            n.cfg.AppPath,
		Compiler:       n.exec,
		MaxModuleBytes: n.cfg.WasmMaxModuleBytes,
		MaxTimeout:     n.cfg.WasmTimeout.Duration,
		Admit:          n.admitAgent,
		Logger:         n.log.With("component", "agents"),
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// admitAgent refuses what this node cannot serve. A priced agent needs
// payment terms (asset, network, pay_to) on its card and x402 collection
// on its calls; on a node not configured for payments, running it for
// free would give it away.
func (n *Node) admitAgent(m *agentstore.Manifest) error {
	if p := m.CallPrice(); p > 0 && !n.cfg.TakesPayments() {
		return fmt.Errorf("price %d (price plus max_fuel at price_per_mfuel) needs x402 payments, which this node does not take (see docs/x402.md); set price = 0 and price_per_mfuel = 0", p)
	}
	return nil
}

// template is the card template of a deployed agent; a priced agent's
// card names the token, network and recipient of its payments. The amount
// is the price of a call, fuel cap included: what the 402 will ask.
func (n *Node) template(a agentstore.Agent) card.Template {
	price := card.Price{Amount: a.PriceAmount()}
	if n.pay != nil && n.pay.chain != nil && a.CallPrice() > 0 {
		price.Asset, price.Network, price.PayTo = n.pay.chain.asset.Address.Hex(), string(n.pay.chain.asset.Network), n.pay.chain.payTo.Hex()
	}
	return card.Template{
		Name: a.Name, Description: a.Description, Tags: a.Tags,
		Price: price, ModuleSHA256: a.ModuleSHA256,
	}
}

// Agents lists the node's agents, deployed and withdrawn, with the card
// advertised for each deployed one.
func (n *Node) Agents() []api.Agent {
	var out []api.Agent
	for _, a := range n.agents.List() {
		out = append(out, n.agentView(a))
	}
	return out
}

// DeployAgent deploys an agent already in app_path and advertises it;
// changed is false when it was deployed as it is.
func (n *Node) DeployAgent(ctx context.Context, name string) (api.Agent, bool, error) {
	n.agentMu.Lock()
	defer n.agentMu.Unlock()
	a, changed, err := n.agents.Deploy(ctx, name)
	if err != nil {
		return api.Agent{}, false, err
	}
	if changed {
		n.advertise(a)
	}
	return n.agentView(a), changed, nil
}

// UploadAgent deploys an agent from its manifest text and module and
// advertises it.
func (n *Node) UploadAgent(ctx context.Context, manifest, module []byte) (api.Agent, bool, error) {
	n.agentMu.Lock()
	defer n.agentMu.Unlock()
	a, changed, err := n.agents.Upload(ctx, manifest, module)
	if err != nil {
		return api.Agent{}, false, err
	}
	if changed {
		n.advertise(a)
	}
	return n.agentView(a), changed, nil
}

// WithdrawAgent stops running an agent and replaces its card with a
// tombstone; copies of the card in the DHT expire.
func (n *Node) WithdrawAgent(_ context.Context, name string) (api.Agent, bool, error) {
	n.agentMu.Lock()
	defer n.agentMu.Unlock()
	a, changed, err := n.agents.Withdraw(name)
	if err != nil {
		return api.Agent{}, false, err
	}
	if changed && n.net != nil {
		n.net.enqueue(func(ctx context.Context) {
			if err := n.net.publisher.Withdraw(ctx, name); err != nil && !errors.Is(err, card.ErrUnknownAgent) {
				n.log.Warn("withdraw agent card", "agent", name, "err", err)
			}
			n.net.ownCardsChanged()
		})
	}
	return n.agentView(a), changed, nil
}

// advertise publishes a deployed agent's card in the background, in order
// with every other change: a slow DHT never holds up a deploy, and the
// publisher retries what fails.
func (n *Node) advertise(agents ...agentstore.Agent) {
	if n.net == nil || len(agents) == 0 {
		return
	}
	tmpls := make([]card.Template, len(agents))
	for i, a := range agents {
		tmpls[i] = n.template(a)
	}
	n.net.enqueue(func(ctx context.Context) {
		err := n.net.publisher.Publish(ctx, tmpls...)
		n.net.ownCardsChanged()
		switch {
		case err == nil:
		case errors.Is(err, kb.ErrLookupFailure):
			n.log.Info("agents advertised to this node only until a peer joins", "agents", len(tmpls))
		default:
			n.log.Warn("advertise agents (the publisher retries)", "agents", len(tmpls), "err", err)
		}
	})
}

// agentView renders an agent for the API, with its current card.
func (n *Node) agentView(a agentstore.Agent) api.Agent {
	out := api.Agent{
		Name: a.Name, Description: a.Description, Tags: a.Tags, Price: a.PriceAmount(),
		ModuleSHA256: hex.EncodeToString(a.ModuleSHA256[:]), ModuleSize: a.ModuleSize, Status: api.AgentWithdrawn,
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if t := a.Limits.Timeout.Duration; t > 0 {
		out.Timeout = t.String()
	}
	out.MaxFuel, out.PricePerMFuel = a.MaxFuel, a.PricePerMFuel
	if !a.Deployed {
		return out
	}
	out.Status = api.AgentDeployed
	if n.net == nil {
		return out
	}
	if raw, ok := n.net.publisher.Card(a.Name); ok {
		if c, err := card.Open(raw); err == nil && c.ModuleSHA256 == a.ModuleSHA256 {
			out.Card = &api.CardInfo{Seq: c.Seq, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt}
		}
	}
	return out
}

// agentsAPI is the bridge's view of the node's agents.
type agentsAPI struct{ n *Node }

func (a agentsAPI) List() []api.Agent { return a.n.Agents() }

func (a agentsAPI) Deploy(ctx context.Context, name string) (api.Agent, bool, error) {
	return a.n.DeployAgent(ctx, name)
}

func (a agentsAPI) Upload(ctx context.Context, manifest, module []byte) (api.Agent, bool, error) {
	return a.n.UploadAgent(ctx, manifest, module)
}

func (a agentsAPI) Withdraw(ctx context.Context, name string) (api.Agent, bool, error) {
	return a.n.WithdrawAgent(ctx, name)
}

func (a agentsAPI) Deployment(name string) (bridge.Deployment, bool) {
	ag, ok := a.n.agents.Get(name)
	if !ok || !ag.Deployed {
		return bridge.Deployment{}, false
	}
	return bridge.Deployment{ModuleSHA256: ag.ModuleSHA256, Timeout: ag.Limits.Timeout.Duration, Fuel: ag.MaxFuel, Price: ag.CallPrice()}, true
}
