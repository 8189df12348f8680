package node

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/facilitator"
	"github.com/agentnet/agentnode/x402/ledger"
)

// chainTimeout bounds each start-time read of the chain (chain id, token
// domain).
const chainTimeout = 15 * time.Second

// chainLink is the node's side of the payment chain: the JSON-RPC client
// (nil with a remote facilitator and no rpc_url), the facilitator that
// verifies and settles, and the token payments are made in.
type chainLink struct {
	rpc    *rpc.Client
	ownRPC bool               // dialled here, closed by close
	local  *facilitator.Local // nil with a remote facilitator
	fac    facilitator.Facilitator
	asset  evm.Asset
	payTo  common.Address
}

// openChain connects to the payment chain and builds the facilitator: a
// Local one settling with the gas key, or a client of facilitator_url. It
// fills the network and the token's EIP-712 domain when the configuration
// leaves them out, from the chain itself.
func openChain(ctx context.Context, cfg *PaymentConfig, log *slog.Logger) (l *chainLink, err error) {
	l = &chainLink{rpc: cfg.RPC, payTo: common.HexToAddress(cfg.PayTo)}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.close())
		}
	}()
	if l.rpc == nil && cfg.RPCURL != "" {
		dctx, cancel := context.WithTimeout(ctx, chainTimeout)
		l.rpc, err = rpc.DialContext(dctx, cfg.RPCURL)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("dial rpc_url: %w", err)
		}
		l.ownRPC = true
	}
	network, err := l.network(ctx, cfg.Network)
	if err != nil {
		return nil, err
	}
	l.asset = evm.Asset{Network: network, Address: common.HexToAddress(cfg.Asset), Name: cfg.TokenName, Version: cfg.TokenVersion}
	if l.asset.Name == "" {
		if err := l.readDomain(ctx); err != nil {
			return nil, err
		}
	}
	switch {
	case cfg.GasKey != nil || cfg.GasKeyFile != "":
		key := cfg.GasKey
		if key == nil {
			if key, _, err = client.ReadKeyFile(cfg.GasKeyFile); err != nil {
				return nil, fmt.Errorf("config gas_key_file: %w", err)
			}
		}
		if l.local, err = newLocal(ctx, l.rpc, key, cfg.clock, log); err != nil {
			return nil, err
		}
		if got := l.local.Settler().Network(); got != network {
			return nil, fmt.Errorf("config network %s: rpc_url serves %s", network, got)
		}
		l.fac = l.local
	case cfg.FacilitatorURL != "":
		r, err := facilitator.NewRemote(facilitator.RemoteConfig{URL: cfg.FacilitatorURL})
		if err != nil {
			return nil, fmt.Errorf("config facilitator_url: %w", err)
		}
		l.fac = r
	}
	return l, nil
}

// newLocal starts a Local facilitator on rc with the gas key, checking
// authorization windows against now (nil: time.Now). Over an in-process
// client the settler is told of new blocks; over HTTP it polls every 50 ms
// while it waits for receipts.
func newLocal(ctx context.Context, rc *rpc.Client, key *ecdsa.PrivateKey, now func() time.Time, log *slog.Logger) (*facilitator.Local, error) {
	f, err := facilitator.NewLocal(ctx, evm.SettlerConfig{RPC: rc, Key: key, Now: now, Logger: log.With("part", "settler")})
	if err != nil {
		return nil, fmt.Errorf("start facilitator: %w", err)
	}
	return f, nil
}

// network returns the configured network, or the chain's own id; with
// both, they must agree.
func (l *chainLink) network(ctx context.Context, configured string) (x402.Network, error) {
	var want x402.Network
	if configured != "" {
		want = x402.Network(configured) // normalized by Validate
	}
	if l.rpc == nil {
		return want, nil
	}
	cctx, cancel := context.WithTimeout(ctx, chainTimeout)
	defer cancel()
	id, err := ethclient.NewClient(l.rpc).ChainID(cctx)
	if err != nil {
		return "", fmt.Errorf("read chain id from rpc_url: %w", err)
	}
	got := x402.EIP155(id.Uint64())
	if want != "" && want != got {
		return "", fmt.Errorf("config network %s: rpc_url serves %s", want, got)
	}
	return got, nil
}

// wellKnown are tokens whose EIP-712 domain needs no lookup.
var wellKnown = []evm.Asset{evm.USDCBase, evm.USDCBaseSepolia}

// readDomain fills the token's EIP-712 name and version: the published
// values of well-known tokens, else name() and version() read on chain.
func (l *chainLink) readDomain(ctx context.Context) error {
	for _, a := range wellKnown {
		if a.Network == l.asset.Network && a.Address == l.asset.Address {
			l.asset.Name, l.asset.Version = a.Name, a.Version
			return nil
		}
	}
	if l.rpc == nil {
		return fmt.Errorf("config token_name, token_version: the EIP-712 domain of token %s is unknown; give it, or rpc_url to read it", l.asset.Address)
	}
	cctx, cancel := context.WithTimeout(ctx, chainTimeout)
	defer cancel()
	var err error
	l.asset.Name, l.asset.Version, err = evm.ReadDomain(cctx, l.rpc, l.asset.Address)
	return err
}

// close stops the facilitator and the RPC client the link dialled.
func (l *chainLink) close() error {
	var err error
	if l.local != nil {
		err = l.local.Close()
	}
	if l.ownRPC && l.rpc != nil {
		l.rpc.Close()
	}
	return err
}

// ledgerSettler is what ledger.Recover needs, over the node's facilitator.
// The facilitator's Settle is idempotent per authorization: for one the
// chain already used it answers with the transaction that used it (our
// own, sent before a stop) or refuses with nonce_already_used (cancelled
// by the payer, or spent by another transfer), and sends nothing.
type ledgerSettler struct {
	fac facilitator.Facilitator
}

// AuthorizationUsed asks the facilitator to verify the payment again: an
// unused authorization verifies (or fails for another reason, which
// Settle then reports); a used one is looked up through Settle, which
// sends nothing for it.
func (s ledgerSettler) AuthorizationUsed(ctx context.Context, e ledger.Entry) (bool, string, error) {
	p, req, err := decodeEntry(e)
	if err != nil {
		return false, "", err
	}
	v, err := s.fac.Verify(ctx, p, req)
	if err != nil {
		return false, "", fmt.Errorf("verify: %w", err)
	}
	if v.IsValid || !x402.IsNonceUsed(v.InvalidReason) {
		return false, "", nil
	}
	r, err := s.fac.Settle(ctx, p, req)
	if err != nil {
		return false, "", fmt.Errorf("look up settlement: %w", err)
	}
	switch settlementOf(r, nil) {
	case settled:
		return true, r.Transaction, nil
	case refused:
		return false, "", fmt.Errorf("authorization used, not by this payment's transfer (%s): %w", r.ErrorReason, ledger.ErrSettleRejected)
	}
	return false, "", fmt.Errorf("look up settlement: %s", r.ErrorReason)
}

// Settle settles the entry's payment and waits for the receipt.
func (s ledgerSettler) Settle(ctx context.Context, e ledger.Entry) (string, error) {
	p, req, err := decodeEntry(e)
	if err != nil {
		return "", err
	}
	r, err := s.fac.Settle(ctx, p, req)
	if err != nil {
		return "", fmt.Errorf("settle: %w", err)
	}
	switch settlementOf(r, nil) {
	case settled:
		return r.Transaction, nil
	case refused:
		return "", fmt.Errorf("settle: %s: %w", r.ErrorReason, ledger.ErrSettleRejected)
	}
	return "", fmt.Errorf("settle: %s (transaction %q)", r.ErrorReason, r.Transaction)
}

// decodeEntry returns the payment and requirements a ledger entry stored.
// A record that does not decode can never be settled: it is rejected.
func decodeEntry(e ledger.Entry) (x402.PaymentPayload, x402.PaymentRequirements, error) {
	var p x402.PaymentPayload
	var req x402.PaymentRequirements
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return p, req, fmt.Errorf("decode stored payment of %s: %v: %w", e.Key, err, ledger.ErrSettleRejected)
	}
	if err := json.Unmarshal(e.Requirements, &req); err != nil {
		return p, req, fmt.Errorf("decode stored requirements of %s: %v: %w", e.Key, err, ledger.ErrSettleRejected)
	}
	return p, req, nil
}

// transientReasons are settlement answers that say nothing final about the
// payment: it was not sent, or not yet confirmed, or the facilitator
// failed. Every other reason is the chain's refusal for good (expired,
// nonce used, balance, signature, reverted).
var transientReasons = map[string]bool{
	x402.ReasonSettlementPending:       true,
	x402.ReasonExactEVMExecuteTransfer: true,
	x402.ReasonExactEVMGetReceipt:      true,
	x402.ReasonUnexpectedSettleError:   true,
	x402.ReasonExactEVMCheckNonce:      true,
	x402.ReasonExactEVMGetBalance:      true,
}

// settlement is what a facilitator's answer to Settle says of a payment.
type settlement int

const (
	// unsettled: not sent, not yet confirmed, or the facilitator failed;
	// settling again may still succeed, and never pays twice.
	unsettled settlement = iota
	settled
	// refused: the chain's refusal for good (expired, nonce used,
	// balance, signature, reverted); nothing was charged.
	refused
)

// settlementOf classifies Settle's answer (r, err).
func settlementOf(r x402.SettleResponse, err error) settlement {
	switch {
	case err == nil && r.Success:
		return settled
	case err != nil || transientReasons[r.ErrorReason]:
		return unsettled
	}
	return refused
}
