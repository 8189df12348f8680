package testnet

import (
	"context"
	"fmt"
	"math/big"
	"path/filepath"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/agentnet/agentnode/internal/jsonfile"
	"github.com/agentnet/agentnode/x402/chain"
)

// Block-time settings. Every block of the embedded chain adds at least a
// second to its clock, and a settled call costs about two blocks, so a
// testnet settling one paid call after another runs its chain clock ahead
// of the wall clock by about two seconds a call. Past chain.Config.MaxLead
// blocks come once a second and every settlement waits for them (about 2 s
// a call instead of 60 ms), which the chain's default lead (2 min) reaches
// after some 60 calls. The testnet allows a lead of a minute less than
// Config.PaymentTimeout (29 minutes by default, so about 800 back-to-back
// calls run at full speed; the lead decays when idle), and has its nodes ask
// for authorizations valid PaymentTimeout, so that they stay valid on the
// chain's clock.
const DefaultPaymentTimeout = 30 * time.Minute

func (c *Config) maxLead() time.Duration { return c.PaymentTimeout - time.Minute }

// fundWorkers bounds the funding transactions in flight: the chain seals
// the ones pending together, so a few dozen share a handful of blocks.
const fundWorkers = 16

// startChain starts the embedded chain with the token (chain.Dev, which
// also funds node 0's gas key and a fresh demo payer), then funds every
// other node's gas key with ETH and every node's payer with tokens.
func (t *Testnet) startChain(ctx context.Context, keys []nodeKeys) error {
	gas0 := address(keys[0].gas)
	ch, info, err := chain.Dev(ctx, chain.DevConfig{
		Chain:      chain.Config{Addr: t.cfg.RPCAddr, MaxLead: t.cfg.maxLead(), Logger: t.cfg.Logger.With("component", "chain")},
		GasAddress: gas0,
	})
	if err != nil {
		return err
	}
	t.chain, t.dev = ch, info
	type grant struct {
		who        string
		addr       common.Address
		wei, token *big.Int
	}
	var grants []grant
	for i, k := range keys {
		name := NodeName(i, len(keys))
		if i > 0 {
			grants = append(grants, grant{who: "gas key of " + name, addr: address(k.gas), wei: chain.DefaultGasFunds})
		}
		grants = append(grants, grant{who: "payer of " + name, addr: address(k.payer), token: chain.DefaultPayerTokens})
	}
	work := make(chan grant)
	errs := make(chan error, len(grants))
	var wg sync.WaitGroup
	for range min(fundWorkers, len(grants)) {
		wg.Go(func() {
			for g := range work {
				if err := ch.Fund(ctx, g.addr, g.wei, g.token); err != nil {
					errs <- fmt.Errorf("fund the %s: %w", g.who, err)
				}
			}
		})
	}
	for _, g := range grants {
		work <- g
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs // the first failure, if any
}

// writeDevJSON writes DataDir/dev.json, readable by its owner only (it
// holds the demo payer's key), for `agentnode exec --pay-key-file` and the
// interop clients: the same file `agentnode dev` writes.
func (t *Testnet) writeDevJSON() error {
	return t.dev.WriteFile(filepath.Join(t.cfg.DataDir, DevJSON))
}

// info is testnet.json.
type info struct {
	Chain  chainInfo  `json:"chain"`
	Nodes  []NodeInfo `json:"nodes"`
	Timing Timing     `json:"timing"`
}

// chainInfo is the chain part of testnet.json: dev.json without the demo
// payer's key, which only dev.json (mode 0600) holds.
type chainInfo struct {
	RPCURL       string `json:"rpc_url"`
	ChainID      uint64 `json:"chain_id"`
	Network      string `json:"network"`
	Token        string `json:"token"`
	TokenName    string `json:"token_name"`
	TokenVersion string `json:"token_version"`
}

// writeInfo writes DataDir/testnet.json: what runs where.
func (t *Testnet) writeInfo() error {
	d := t.dev
	ci := chainInfo{RPCURL: d.RPCURL, ChainID: d.ChainID, Network: string(d.Network), Token: d.Token, TokenName: d.TokenName, TokenVersion: d.TokenVersion}
	return jsonfile.Write(filepath.Join(t.cfg.DataDir, InfoJSON), info{Chain: ci, Nodes: t.nodes, Timing: t.timing})
}
