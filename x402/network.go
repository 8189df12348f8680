package x402

import (
	"fmt"
	"strconv"
	"strings"
)

// Network is a CAIP-2 chain id such as "eip155:8453". v2 messages carry it
// as is; v1 messages use the names of v1Networks, which ParseNetwork and
// Network.V1Name translate.
type Network string

// Well-known networks.
const (
	NetworkBase        Network = "eip155:8453"
	NetworkBaseSepolia Network = "eip155:84532"
)

// v1Networks maps the v1 network names to CAIP-2 ids.
var v1Networks = map[string]Network{
	"base":           "eip155:8453",
	"base-sepolia":   "eip155:84532",
	"avalanche":      "eip155:43114",
	"avalanche-fuji": "eip155:43113",
	"polygon":        "eip155:137",
	"polygon-amoy":   "eip155:80002",
	"iotex":          "eip155:4689",
	"sei":            "eip155:1329",
	"sei-testnet":    "eip155:1328",
	"solana":         "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
	"solana-devnet":  "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
}

// EIP155 returns the CAIP-2 id of an EVM chain.
func EIP155(chainID uint64) Network {
	return Network("eip155:" + strconv.FormatUint(chainID, 10))
}

// ParseNetwork accepts a CAIP-2 id or a v1 network name and returns the
// CAIP-2 form.
func ParseNetwork(s string) (Network, error) {
	if n, ok := v1Networks[s]; ok {
		return n, nil
	}
	ns, ref, ok := strings.Cut(s, ":")
	if !ok || !validCAIP2(ns, 3, 8) || !validCAIP2(ref, 1, 32) {
		return "", fmt.Errorf("parse network %q: %w", truncate(s), ErrUnknownNetwork)
	}
	if ns == "eip155" {
		if _, err := Network(s).ChainID(); err != nil {
			return "", err
		}
	}
	return Network(s), nil
}

// validCAIP2 checks a CAIP-2 namespace or reference: [-_a-zA-Z0-9] within
// the given length bounds (namespaces are lowercase per the spec, but the
// character check is shared).
func validCAIP2(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// IsEVM reports whether n is an eip155 network.
func (n Network) IsEVM() bool { return strings.HasPrefix(string(n), "eip155:") }

// ChainID returns the EVM chain id of an eip155 network.
func (n Network) ChainID() (uint64, error) {
	ref, ok := strings.CutPrefix(string(n), "eip155:")
	if !ok {
		return 0, fmt.Errorf("chain id of %q: not an eip155 network: %w", truncate(string(n)), ErrUnknownNetwork)
	}
	id, err := strconv.ParseUint(ref, 10, 64)
	if err != nil || id == 0 || ref[0] == '0' {
		return 0, fmt.Errorf("chain id of %q: %w", truncate(string(n)), ErrUnknownNetwork)
	}
	return id, nil
}

// V1Name returns the v1 name of n, or false when v1 has no name for it (a
// v1 client cannot pay on such a network).
func (n Network) V1Name() (string, bool) {
	for name, id := range v1Networks {
		if id == n {
			return name, true
		}
	}
	return "", false
}

// String returns the CAIP-2 id.
func (n Network) String() string { return string(n) }

// truncate bounds untrusted strings quoted in error messages.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
