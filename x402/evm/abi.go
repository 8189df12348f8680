package evm

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
)

// eip3009ABI is the part of an EIP-3009 token (USDC's FiatToken v2) that
// verification and settlement use.
const eip3009ABI = `[
{"type":"function","name":"authorizationState","stateMutability":"view","inputs":[{"name":"authorizer","type":"address"},{"name":"nonce","type":"bytes32"}],"outputs":[{"name":"","type":"bool"}]},
{"type":"function","name":"balanceOf","stateMutability":"view","inputs":[{"name":"account","type":"address"}],"outputs":[{"name":"","type":"uint256"}]},
{"type":"function","name":"name","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"string"}]},
{"type":"function","name":"version","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"string"}]},
{"type":"function","name":"transferWithAuthorization","stateMutability":"nonpayable","inputs":[{"name":"from","type":"address"},{"name":"to","type":"address"},{"name":"value","type":"uint256"},{"name":"validAfter","type":"uint256"},{"name":"validBefore","type":"uint256"},{"name":"nonce","type":"bytes32"},{"name":"v","type":"uint8"},{"name":"r","type":"bytes32"},{"name":"s","type":"bytes32"}],"outputs":[]},
{"type":"function","name":"transferWithAuthorization","stateMutability":"nonpayable","inputs":[{"name":"from","type":"address"},{"name":"to","type":"address"},{"name":"value","type":"uint256"},{"name":"validAfter","type":"uint256"},{"name":"validBefore","type":"uint256"},{"name":"nonce","type":"bytes32"},{"name":"signature","type":"bytes"}],"outputs":[]}
]`

// Event topics of EIP-3009 tokens.
var (
	topicTransfer          = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))
	topicAuthorizationUsed = crypto.Keccak256Hash([]byte("AuthorizationUsed(address,bytes32)"))
)

// tokenABI parses eip3009ABI; it is a constant, so failure is a bug caught
// by every test.
func tokenABI() abi.ABI {
	a, err := abi.JSON(strings.NewReader(eip3009ABI))
	if err != nil {
		panic(fmt.Sprintf("evm: parse built-in ABI: %v", err))
	}
	return a
}

// Selectors, hand-packed on the hot path.
var (
	selAuthorizationState = crypto.Keccak256([]byte("authorizationState(address,bytes32)"))[:4]
	selBalanceOf          = crypto.Keccak256([]byte("balanceOf(address)"))[:4]
	selName               = crypto.Keccak256([]byte("name()"))[:4]
	selVersion            = crypto.Keccak256([]byte("version()"))[:4]
)

func packAuthorizationState(from common.Address, nonce [32]byte) []byte {
	b := make([]byte, 4+64)
	copy(b, selAuthorizationState)
	copy(b[4+12:36], from[:])
	copy(b[36:68], nonce[:])
	return b
}

func packBalanceOf(a common.Address) []byte {
	b := make([]byte, 4+32)
	copy(b, selBalanceOf)
	copy(b[4+12:36], a[:])
	return b
}

// packTransfer encodes transferWithAuthorization(..., v, r, s).
func packTransfer(a abi.ABI, auth Authorization, sig [65]byte) ([]byte, error) {
	var r, s [32]byte
	copy(r[:], sig[0:32])
	copy(s[:], sig[32:64])
	return a.Pack("transferWithAuthorization", auth.From, auth.To, auth.Value.ToBig(),
		auth.ValidAfter.ToBig(), auth.ValidBefore.ToBig(), auth.Nonce, sig[64], r, s)
}

// sameAuthorization reports whether calldata is a transferWithAuthorization
// call (either overload) of exactly auth: the same message, so the same
// authorization, not merely the same nonce.
func sameAuthorization(a abi.ABI, data []byte, auth Authorization) bool {
	if len(data) < 4 {
		return false
	}
	m, err := a.MethodById(data[:4])
	if err != nil || !strings.HasPrefix(m.Name, "transferWithAuthorization") {
		return false
	}
	args, err := m.Inputs.Unpack(data[4:])
	if err != nil || len(args) < 6 {
		return false
	}
	from, ok1 := args[0].(common.Address)
	to, ok2 := args[1].(common.Address)
	value, ok3 := args[2].(*big.Int)
	after, ok4 := args[3].(*big.Int)
	before, ok5 := args[4].(*big.Int)
	nonce, ok6 := args[5].([32]byte)
	return ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && from == auth.From && to == auth.To && nonce == auth.Nonce &&
		value.Cmp(auth.Value.ToBig()) == 0 && after.Cmp(auth.ValidAfter.ToBig()) == 0 && before.Cmp(auth.ValidBefore.ToBig()) == 0
}

func decodeBool(b []byte) (bool, error) {
	if len(b) != 32 {
		return false, fmt.Errorf("bool result of %d bytes: %w", len(b), ErrMalformed)
	}
	return b[31] == 1, nil
}

func decodeUint(b []byte) (*uint256.Int, error) {
	if len(b) != 32 {
		return nil, fmt.Errorf("uint256 result of %d bytes: %w", len(b), ErrMalformed)
	}
	return new(uint256.Int).SetBytes32(b), nil
}

func decodeString(a abi.ABI, method string, b []byte) (string, error) {
	out, err := a.Unpack(method, b)
	if err != nil || len(out) != 1 {
		return "", fmt.Errorf("%s result: %w", method, ErrMalformed)
	}
	s, ok := out[0].(string)
	if !ok {
		return "", fmt.Errorf("%s result: %w", method, ErrMalformed)
	}
	return s, nil
}
