package testnet

import (
	"context"
	"path/filepath"

	"github.com/agentnet/agentnode/agents"
	"github.com/agentnet/agentnode/node"
)

// inProcess is a node running in this process.
type inProcess struct{ n *node.Node }

// startInProcess starts a node in this process: the simulated TEE, the
// testnet's record lifetimes, payments settled over the chain's
// in-process client, and the compilation cache every node shares. Node 0
// serves the status page of the whole testnet.
func (t *Testnet) startInProcess(ctx context.Context, s nodeSpec) (member, error) {
	cfg := node.Config{
		Listening:    s.listen,
		DataDir:      s.keys.dir,
		ExecutorPath: t.cfg.CacheDir,
		TEE:          "sim",
		LogLevel:     t.cfg.LogLevel,
		P2PListen:    []string{"/ip4/127.0.0.1/tcp/0"},
		Bootstrap:    s.bootstrap,
		P2PTTL:       "testnet",
		PaymentConfig: node.PaymentConfig{
			RPC:            t.chain.Client().Client(),
			RPCURL:         t.dev.RPCURL,
			Network:        string(t.dev.Network),
			Asset:          t.dev.Token,
			TokenName:      t.dev.TokenName,
			TokenVersion:   t.dev.TokenVersion,
			PayTo:          address(s.keys.gas).Hex(),
			GasKeyFile:     filepath.Join(s.keys.dir, gasKeyFile),
			PayerKeyFile:   filepath.Join(s.keys.dir, payerKeyFile),
			MaxPrice:       t.cfg.MaxPrice,
			PaymentTimeout: node.Duration{Duration: t.cfg.PaymentTimeout},
		},
	}
	if s.index == 0 {
		cfg.Status = t.status
	}
	n, err := node.New(cfg, t.cfg.Logger.With("node", s.name))
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		return nil, err // Start closed what it opened
	}
	return &inProcess{n: n}, nil
}

func (m *inProcess) describe() (string, string, []string, int) {
	return m.n.PeerID(), m.n.BridgeURL(), m.n.P2PAddrs(), 0
}

func (m *inProcess) waitReady(ctx context.Context, minPeers int) error {
	return m.n.P2P().WaitReady(ctx, minPeers)
}

func (m *inProcess) deploy(ctx context.Context, a agents.Agent) error {
	_, _, err := m.n.UploadAgent(ctx, a.Manifest, a.Module)
	return err
}

func (m *inProcess) advertised(ctx context.Context) error { return m.n.Advertised(ctx) }

func (m *inProcess) rss() int64 { return 0 }

func (m *inProcess) close() error { return m.n.Close() }
