package chain

import "errors"

var (
	// ErrNotLoopback is returned when Config.Addr is not a loopback
	// address: the dev chain has no access control.
	ErrNotLoopback = errors.New("chain: RPC address must be loopback")

	// ErrNoToken is returned when tokens are requested before any token was
	// deployed.
	ErrNoToken = errors.New("chain: no token deployed")

	// ErrReverted is returned when a faucet transaction (deploy, mint,
	// transfer) was mined with status 0.
	ErrReverted = errors.New("chain: transaction reverted")
)
