package evm

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/agentnet/agentnode/x402"
)

// Asset is an EIP-3009 token on a network: what a server needs to turn a
// price into payment requirements.
type Asset struct {
	Network x402.Network
	Address common.Address
	// Name and Version are the token's EIP-712 domain, as its name() and
	// version() return them.
	Name, Version string
}

// Well-known USDC deployments. Mind the names: Base mainnet's domain name
// is "USD Coin", Base Sepolia's "USDC".
var (
	USDCBase        = Asset{Network: x402.NetworkBase, Address: common.HexToAddress("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"), Name: "USD Coin", Version: "2"}
	USDCBaseSepolia = Asset{Network: x402.NetworkBaseSepolia, Address: common.HexToAddress("0x036CbD53842c5426634e7929541eC2318f3dCF7e"), Name: "USDC", Version: "2"}
)

// ReadDomain reads the EIP-712 domain of the token at address, its name()
// and version(), in one JSON-RPC batch.
func ReadDomain(ctx context.Context, rc *rpc.Client, address common.Address) (name, version string, err error) {
	var rawName, rawVersion hexutil.Bytes
	call := func(data []byte, out *hexutil.Bytes) rpc.BatchElem {
		return rpc.BatchElem{Method: "eth_call", Args: []any{map[string]any{"to": address, "data": hexutil.Bytes(data)}, "latest"}, Result: out}
	}
	batch := []rpc.BatchElem{call(selName, &rawName), call(selVersion, &rawVersion)}
	if err := rc.BatchCallContext(ctx, batch); err != nil {
		return "", "", fmt.Errorf("read token %s domain: %w", address.Hex(), err)
	}
	a := tokenABI()
	for i, f := range []struct {
		method string
		raw    hexutil.Bytes
		out    *string
	}{{"name", rawName, &name}, {"version", rawVersion, &version}} {
		if batch[i].Error != nil {
			return "", "", fmt.Errorf("read token %s %s(): %w", address.Hex(), f.method, batch[i].Error)
		}
		if *f.out, err = decodeString(a, f.method, f.raw); err != nil {
			return "", "", fmt.Errorf("read token %s %s(): not an ABI string (is it an EIP-3009 token?): %w", address.Hex(), f.method, err)
		}
	}
	return name, version, nil
}

// Requirements returns the exact-scheme requirements for a price of
// amount atomic units paid to payTo, with the authorization window a
// client should sign for (maxTimeout, rounded down to seconds).
func (a Asset) Requirements(amount string, payTo common.Address, maxTimeout time.Duration) x402.PaymentRequirements {
	return x402.PaymentRequirements{
		Scheme:            x402.SchemeExact,
		Network:           a.Network,
		Amount:            amount,
		Asset:             a.Address.Hex(),
		PayTo:             payTo.Hex(),
		MaxTimeoutSeconds: int64(maxTimeout / time.Second),
		Extra:             map[string]any{"name": a.Name, "version": a.Version},
	}
}
