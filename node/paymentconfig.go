package node

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/agentnet/agentnode/x402"
)

// Payment defaults and bounds.
const (
	// DefaultPaymentTimeout is the validity window the node asks payers
	// to sign for (maxTimeoutSeconds). It stays well above the dev chain's
	// default MaxLead (2 min), so authorizations do not expire on a chain
	// whose clock ran ahead under load, and above Base's settlement time.
	DefaultPaymentTimeout = 5 * time.Minute
	// MinPaymentTimeout and MaxPaymentTimeout bound payment_timeout.
	MinPaymentTimeout = 30 * time.Second
	MaxPaymentTimeout = 24 * time.Hour
)

// PaymentConfig is the x402 part of [Config]: the terms the node charges
// in, how it verifies and settles payments, and how it pays for its own
// remote calls. Its keys sit in the same flat TOML table as the rest (the
// struct is embedded); docs/config.md lists them. With none of them set
// the node is free.
type PaymentConfig struct {
	// RPCURL is the JSON-RPC endpoint (http, https, ws or wss) of the EVM
	// chain payments settle on, e.g. https://sepolia.base.org. Needed by
	// gas_key_file (the node settles itself) and used, when given, to read
	// the chain id and the token's EIP-712 domain.
	RPCURL string `toml:"rpc_url"`
	// Network is the CAIP-2 id of that chain ("eip155:84532"; v1 names
	// such as "base-sepolia" are accepted). Default: eip155:<the chain id
	// rpc_url reports>; required without rpc_url.
	Network string `toml:"network"`
	// Asset is the EIP-3009 token contract payments are made in, e.g.
	// Base Sepolia's USDC 0x036CbD53842c5426634e7929541eC2318f3dCF7e.
	Asset string `toml:"asset"`
	// TokenName and TokenVersion are the token's EIP-712 domain, which
	// payers sign under. Default: Base's and Base Sepolia's USDC values
	// for those tokens, else the token's name() and version() read
	// through rpc_url.
	TokenName    string `toml:"token_name"`
	TokenVersion string `toml:"token_version"`
	// PayTo is the address that receives payments.
	PayTo string `toml:"pay_to"`
	// GasKeyFile holds the hex secp256k1 key the node settles payments
	// with (a Local facilitator: the node sends transferWithAuthorization
	// and pays the gas). Mode 0600. Exclusive with facilitator_url.
	GasKeyFile string `toml:"gas_key_file"`
	// FacilitatorURL is a remote x402 facilitator that verifies and
	// settles for the node, e.g. https://x402.org/facilitator.
	FacilitatorURL string `toml:"facilitator_url"`
	// Facilitator, when true, serves the node's own facilitator to other
	// x402 servers on the bridge: POST /facilitator/verify, POST
	// /facilitator/settle, GET /facilitator/supported. Needs gas_key_file.
	// Default false.
	Facilitator bool `toml:"facilitator"`
	// PaymentTimeout is the authorization window the node asks payers to
	// sign for (x402 maxTimeoutSeconds). Default "5m".
	PaymentTimeout Duration `toml:"payment_timeout"`
	// PayeePolicy is a Starlark policy file whose price(request) prices
	// every paid request (docs/policy-scripts.md). Default: the node's
	// price, or the agent's manifest price.
	PayeePolicy string `toml:"payee_policy"`

	// PayerKeyFile holds the key the node pays its own remote calls with
	// (POST /v1/agents/{peer}/{name}/call): a hex secp256k1 key, or a
	// dev.json. Mode 0600. Default none: the node makes no payments.
	PayerKeyFile string `toml:"payer_key_file"`
	// MaxPrice caps one payment the node makes, in the token's atomic
	// units. A payer needs max_price or payer_policy.
	MaxPrice uint64 `toml:"max_price"`
	// PayerPolicy is a Starlark policy file whose decide(payment) allows
	// or refuses every payment the node makes, with spending kept in the
	// node's database (docs/policy-scripts.md).
	PayerPolicy string `toml:"payer_policy"`

	// RPC, when set, is the chain client to use instead of dialling
	// rpc_url: `agentnode dev` passes its embedded chain's in-process
	// client, which is faster and tells the settler of new blocks.
	RPC *rpc.Client `toml:"-"`
	// GasKey, when set, replaces gas_key_file.
	GasKey *ecdsa.PrivateKey `toml:"-"`

	// paymentFault, when set, is called at the named stages of a paid
	// request ("reserved": the ledger holds the payment, the work has not
	// run; "ran": the work ran, neither its record nor the settlement has
	// started; then, at once, "recorded": the ledger has the execution on
	// disk, and "sending": the settlement is about to go out; "settled":
	// the chain has the payment, the ledger does not know yet); an error
	// stops the request there as a crash would. Tests use it to kill a
	// node between execution and settlement.
	paymentFault func(stage string) error
	// settleObserver, when set, is told the duration of every settlement
	// of a paid request (what the settlement histogram counts): the
	// benchmark's exact percentiles.
	settleObserver func(time.Duration)
	// verifyTimeout, when set, replaces the bound of a payment's
	// verification: fault tests of a hanging chain use a short one.
	verifyTimeout time.Duration
	// clock, when set, is the clock the node checks authorization windows
	// against: clock-skew tests set it off the chain's and the client's.
	clock func() time.Time
}

// TakesPayments reports whether the node charges for executions: it has
// payment terms (asset, pay_to) and a facilitator. Without them every
// execution is free and priced agents are refused.
func (c *PaymentConfig) TakesPayments() bool {
	return c.Asset != "" && c.PayTo != "" && c.hasFacilitator()
}

func (c *PaymentConfig) hasFacilitator() bool {
	return c.GasKeyFile != "" || c.GasKey != nil || c.FacilitatorURL != ""
}

// pays reports whether the node pays for its remote calls.
func (c *PaymentConfig) pays() bool { return c.PayerKeyFile != "" }

// validatePayments fills the payment defaults and checks the keys against
// each other, so that a half-configured node fails before anything opens.
// price is the node's execution price.
func (c *PaymentConfig) validatePayments(price uint64) error {
	if c.PaymentTimeout.Duration == 0 {
		c.PaymentTimeout.Duration = DefaultPaymentTimeout
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("config "+format, a...)) }
	if d := c.PaymentTimeout.Duration; d < MinPaymentTimeout || d > MaxPaymentTimeout {
		bad("payment_timeout %v: want %v to %v", d, MinPaymentTimeout, MaxPaymentTimeout)
	}
	for key, v := range map[string]string{"asset": c.Asset, "pay_to": c.PayTo} {
		if v != "" && !common.IsHexAddress(v) {
			bad("%s %q: want a 0x-prefixed 20-byte hex address", key, v)
		}
	}
	if c.Network != "" {
		n, err := x402.ParseNetwork(c.Network)
		switch {
		case err != nil:
			bad("network %q: %v", c.Network, err)
		case !n.IsEVM():
			bad("network %q: only EVM (eip155) networks are supported", c.Network)
		default:
			c.Network = string(n)
		}
	}
	if (c.TokenName == "") != (c.TokenVersion == "") {
		bad("token_name and token_version: give both (the token's EIP-712 domain) or neither")
	}
	if c.GasKeyFile != "" && c.FacilitatorURL != "" {
		bad("gas_key_file and facilitator_url: choose one facilitator (settle yourself, or through a remote one)")
	}
	if (c.GasKeyFile != "" || c.GasKey != nil) && c.RPCURL == "" && c.RPC == nil {
		bad("gas_key_file: settling with the node's own key needs rpc_url")
	}
	if c.Facilitator && c.GasKeyFile == "" && c.GasKey == nil {
		bad("facilitator = true serves the node's own facilitator: set gas_key_file and rpc_url")
	}
	terms := c.Asset != "" || c.PayTo != "" || c.hasFacilitator() || c.PayeePolicy != ""
	if terms && !c.TakesPayments() {
		var missing []string
		for key, v := range map[string]bool{"asset": c.Asset != "", "pay_to": c.PayTo != "", "gas_key_file or facilitator_url": c.hasFacilitator()} {
			if !v {
				missing = append(missing, key)
			}
		}
		slices.Sort(missing)
		bad("payments: missing %s (taking payments needs a token, a recipient and a facilitator)", strings.Join(missing, ", "))
	}
	if price > 0 && !c.TakesPayments() {
		bad("price %d: charging needs asset, pay_to and a facilitator (gas_key_file + rpc_url, or facilitator_url); see docs/x402.md", price)
	}
	if c.TakesPayments() && c.Network == "" && c.RPCURL == "" && c.RPC == nil {
		bad("network: give the chain's CAIP-2 id (e.g. eip155:84532), or rpc_url to read it from")
	}
	if c.pays() && c.MaxPrice == 0 && c.PayerPolicy == "" {
		bad("payer_key_file: set max_price or payer_policy, the limit of what the node pays")
	}
	if !c.pays() && (c.MaxPrice != 0 || c.PayerPolicy != "") {
		bad("max_price and payer_policy limit the node's payments: set payer_key_file too")
	}
	return errors.Join(errs...)
}

// maxPrice returns max_price as a big integer, nil when unset.
func (c *PaymentConfig) maxPrice() *big.Int {
	if c.MaxPrice == 0 {
		return nil
	}
	return new(big.Int).SetUint64(c.MaxPrice)
}
