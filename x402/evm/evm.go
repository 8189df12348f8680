// Package evm implements the x402 "exact" scheme on EVM chains: EIP-3009
// TransferWithAuthorization under an EIP-712 domain taken from the payment
// requirements. It signs payments (Sign), verifies them as a facilitator
// does (Verifier: local checks, then token state through eth_call), and
// settles them by submitting transferWithAuthorization from the
// facilitator's own gas key (Settler).
//
// The EIP-712 hashing is written out by hand (a handful of keccak256
// calls over fixed-size words) rather than through go-ethereum's generic
// apitypes encoder, which is an order of magnitude slower; a test checks
// the two agree, and the spec's published vector is a unit test.
package evm

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/agentnet/agentnode/x402"
)

// Typehashes of EIP-712 and EIP-3009.
var (
	// DomainTypehash is keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)").
	DomainTypehash = common.HexToHash("0x8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f")
	// TransferTypehash is keccak256 of the TransferWithAuthorization type.
	TransferTypehash = common.HexToHash("0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267")
)

// Domain is the EIP-712 domain of an EIP-3009 token. Name and Version come
// from the requirements' extra, ChainID from the CAIP-2 network and
// VerifyingContract from the asset.
type Domain struct {
	Name              string
	Version           string
	ChainID           uint64
	VerifyingContract common.Address
}

// Separator returns the EIP-712 domain separator.
func (d Domain) Separator() common.Hash {
	var buf [5 * 32]byte
	copy(buf[0:32], DomainTypehash[:])
	copy(buf[32:64], crypto.Keccak256([]byte(d.Name)))
	copy(buf[64:96], crypto.Keccak256([]byte(d.Version)))
	new(big.Int).SetUint64(d.ChainID).FillBytes(buf[96:128])
	copy(buf[128+12:160], d.VerifyingContract[:])
	return crypto.Keccak256Hash(buf[:])
}

// Authorization is a parsed EIP-3009 TransferWithAuthorization message.
type Authorization struct {
	From        common.Address
	To          common.Address
	Value       *uint256.Int
	ValidAfter  *uint256.Int
	ValidBefore *uint256.Int
	Nonce       [32]byte
}

// StructHash returns hashStruct(TransferWithAuthorization).
func (a Authorization) StructHash() common.Hash {
	var buf [7 * 32]byte
	copy(buf[0:32], TransferTypehash[:])
	copy(buf[32+12:64], a.From[:])
	copy(buf[64+12:96], a.To[:])
	a.Value.WriteToSlice(buf[96:128])
	a.ValidAfter.WriteToSlice(buf[128:160])
	a.ValidBefore.WriteToSlice(buf[160:192])
	copy(buf[192:224], a.Nonce[:])
	return crypto.Keccak256Hash(buf[:])
}

// Digest returns the EIP-712 digest keccak256(0x1901 || domain || struct)
// that the payer signs.
func (a Authorization) Digest(d Domain) common.Hash {
	return digest(d.Separator(), a.StructHash())
}

func digest(separator, structHash common.Hash) common.Hash {
	var buf [2 + 32 + 32]byte
	buf[0], buf[1] = 0x19, 0x01
	copy(buf[2:34], separator[:])
	copy(buf[34:66], structHash[:])
	return crypto.Keccak256Hash(buf[:])
}

// Wire returns the string form of a carried in an x402 payload.
func (a Authorization) Wire() x402.Authorization {
	return x402.Authorization{
		From:        a.From.Hex(),
		To:          a.To.Hex(),
		Value:       a.Value.Dec(),
		ValidAfter:  a.ValidAfter.Dec(),
		ValidBefore: a.ValidBefore.Dec(),
		Nonce:       hexutil.Encode(a.Nonce[:]),
	}
}

// ParseAuthorization parses the wire form of an authorization: 0x
// addresses, decimal uint256 amounts and times, a 0x-prefixed 32-byte nonce.
func ParseAuthorization(w x402.Authorization) (Authorization, error) {
	var a Authorization
	var err error
	if a.From, err = parseAddress(w.From); err != nil {
		return a, fmt.Errorf("authorization from: %w", err)
	}
	if a.To, err = parseAddress(w.To); err != nil {
		return a, fmt.Errorf("authorization to: %w", err)
	}
	if a.Value, err = parseUint256(w.Value); err != nil {
		return a, fmt.Errorf("authorization value: %w", err)
	}
	if a.ValidAfter, err = parseUint256(w.ValidAfter); err != nil {
		return a, fmt.Errorf("authorization validAfter: %w", err)
	}
	if a.ValidBefore, err = parseUint256(w.ValidBefore); err != nil {
		return a, fmt.Errorf("authorization validBefore: %w", err)
	}
	n, err := hexutil.Decode(w.Nonce)
	if err != nil || len(n) != 32 {
		return a, fmt.Errorf("authorization nonce %q: want 0x and 64 hex digits: %w", short(w.Nonce), ErrMalformed)
	}
	copy(a.Nonce[:], n)
	return a, nil
}

// parseAddress accepts a 0x-prefixed 20-byte hex address in any case. A
// mixed-case address must carry a valid EIP-55 checksum.
func parseAddress(s string) (common.Address, error) {
	if len(s) != 42 || !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") || !common.IsHexAddress(s) {
		return common.Address{}, fmt.Errorf("address %q: %w", short(s), ErrMalformed)
	}
	a := common.HexToAddress(s)
	body := s[2:]
	if body != strings.ToLower(body) && body != strings.ToUpper(body) && a.Hex() != s {
		return common.Address{}, fmt.Errorf("address %q: bad EIP-55 checksum: %w", short(s), ErrMalformed)
	}
	return a, nil
}

// parseUint256 accepts a decimal integer in [0, 2^256).
func parseUint256(s string) (*uint256.Int, error) {
	if s == "" || len(s) > 78 || (len(s) > 1 && s[0] == '0') || s[0] == '+' || s[0] == '-' {
		return nil, fmt.Errorf("integer %q: %w", short(s), ErrMalformed)
	}
	v, err := uint256.FromDecimal(s)
	if err != nil {
		return nil, fmt.Errorf("integer %q: %w", short(s), ErrMalformed)
	}
	return v, nil
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
