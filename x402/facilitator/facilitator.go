// Package facilitator is the x402 facilitator API: the Facilitator
// interface (verify, settle, supported), Local, which verifies and settles
// on chain itself with go-ethereum and the node's gas key, Remote, an HTTP
// client of any x402 facilitator, and Handler, the HTTP server side
// (POST /verify, POST /settle, GET /supported) that lets other x402
// servers use a node as their facilitator.
package facilitator

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/evm"
)

// Facilitator verifies and settles x402 payments. A payment that fails a
// check is an answer (IsValid or Success false with a reason), not an
// error; errors mean the check could not be made.
type Facilitator interface {
	// Verify checks a payment against the server's requirements without
	// moving funds.
	Verify(ctx context.Context, payload x402.PaymentPayload, requirements x402.PaymentRequirements) (x402.VerifyResponse, error)
	// Settle executes the payment on chain and reports the transaction.
	// A receipt that does not arrive in time yields settlement_pending.
	Settle(ctx context.Context, payload x402.PaymentPayload, requirements x402.PaymentRequirements) (x402.SettleResponse, error)
	// Supported lists the (version, scheme, network) kinds handled.
	Supported(ctx context.Context) (x402.SupportedResponse, error)
}

// Local is a Facilitator that verifies with go-ethereum against an EVM
// JSON-RPC endpoint and settles with the node's own gas key (x402/evm).
type Local struct {
	settler *evm.Settler
}

var _ Facilitator = (*Local)(nil)

// NewLocal returns a Local facilitator for the chain cfg.RPC serves; see
// evm.SettlerConfig for the fields. It reads the chain id and the gas
// key's nonce once. Close releases it.
func NewLocal(ctx context.Context, cfg evm.SettlerConfig) (*Local, error) {
	s, err := evm.NewSettler(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("new local facilitator: %w", err)
	}
	return &Local{settler: s}, nil
}

// Settler returns the underlying settler, for callers that need its
// address or network.
func (l *Local) Settler() *evm.Settler { return l.settler }

// Verify runs the exact-scheme checks, local and on chain.
func (l *Local) Verify(ctx context.Context, p x402.PaymentPayload, req x402.PaymentRequirements) (x402.VerifyResponse, error) {
	c, err := l.settler.Verify(ctx, p, req)
	if err != nil {
		var e *evm.Error
		if errors.As(err, &e) {
			return x402.VerifyResponse{IsValid: false, InvalidReason: e.Reason, InvalidMessage: e.Error(), Payer: e.Payer}, nil
		}
		return x402.VerifyResponse{}, fmt.Errorf("verify payment: %w", err)
	}
	return x402.VerifyResponse{IsValid: true, Payer: c.Payer().Hex()}, nil
}

// Settle sends transferWithAuthorization and waits for the receipt.
func (l *Local) Settle(ctx context.Context, p x402.PaymentPayload, req x402.PaymentRequirements) (x402.SettleResponse, error) {
	resp, err := l.settler.Settle(ctx, p, req)
	if err != nil {
		return x402.SettleResponse{}, fmt.Errorf("settle payment: %w", err)
	}
	return resp, nil
}

// Supported reports the exact scheme on the settler's chain, in v2 and,
// when the network has a v1 name, v1; the signer is the gas key.
func (l *Local) Supported(context.Context) (x402.SupportedResponse, error) {
	n := l.settler.Network()
	kinds := []x402.SupportedKind{{X402Version: x402.Version, Scheme: x402.SchemeExact, Network: n}}
	if v1, ok := n.V1Name(); ok {
		kinds = append(kinds, x402.SupportedKind{X402Version: x402.VersionV1, Scheme: x402.SchemeExact, Network: x402.Network(v1)})
	}
	return x402.SupportedResponse{
		Kinds:      kinds,
		Extensions: []string{},
		Signers:    map[string][]string{"eip155:*": {l.settler.Address().Hex()}},
	}, nil
}

// Close stops the settler's receipt watcher.
func (l *Local) Close() error { return l.settler.Close() }
