// Package token embeds the EIP-3009 test token of the dev chain: its
// Solidity source lives in x402/chain/contracts, compiled with the pinned
// npm solc by contracts/build.sh into TestToken.abi and TestToken.bin here,
// and bindings.go is generated from them by go-ethereum's abigen (v2).
package token

import (
	_ "embed"
	"encoding/hex"
	"fmt"
	"strings"
)

// ABIJSON is the token's ABI as emitted by solc.
//
//go:embed TestToken.abi
var ABIJSON string

//go:embed TestToken.bin
var binHex string

// Bytecode returns the token's init code (constructor arguments not
// included: append PackConstructor's output).
func Bytecode() ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimSpace(binHex))
	if err != nil {
		return nil, fmt.Errorf("decode embedded token bytecode: %w", err)
	}
	return b, nil
}
