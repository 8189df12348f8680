package x402_test

import (
	"errors"
	"testing"

	"github.com/agentnet/agentnode/x402"
)

func TestParseNetwork(t *testing.T) {
	good := map[string]x402.Network{
		"base":           "eip155:8453",
		"base-sepolia":   "eip155:84532",
		"eip155:1337":    "eip155:1337",
		"avalanche-fuji": "eip155:43113",
		"solana":         "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
	}
	for in, want := range good {
		got, err := x402.ParseNetwork(in)
		if err != nil || got != want {
			t.Errorf("ParseNetwork(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "eip155", "eip155:", "eip155:0", "eip155:01", "eip155:-1", "eip155:x", "a:b", "base sepolia", "eip155:99999999999999999999999"} {
		if _, err := x402.ParseNetwork(bad); !errors.Is(err, x402.ErrUnknownNetwork) {
			t.Errorf("ParseNetwork(%q) err = %v", bad, err)
		}
	}
}

func TestNetworkChainID(t *testing.T) {
	id, err := x402.NetworkBaseSepolia.ChainID()
	if err != nil || id != 84532 {
		t.Fatalf("chain id = %d, %v", id, err)
	}
	if x402.EIP155(1337) != "eip155:1337" {
		t.Fatal("EIP155")
	}
	if name, ok := x402.NetworkBase.V1Name(); !ok || name != "base" {
		t.Fatalf("v1 name = %q %v", name, ok)
	}
	if _, ok := x402.EIP155(1337).V1Name(); ok {
		t.Fatal("dev chain has a v1 name")
	}
	if _, err := x402.Network("solana:abc").ChainID(); err == nil {
		t.Fatal("solana has a chain id")
	}
}
