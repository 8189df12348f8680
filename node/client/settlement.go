package client

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/agentnet/agentnode/x402"
)

// Event topics of an EIP-3009 settlement.
var (
	topicTransfer          = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))
	topicAuthorizationUsed = crypto.Keccak256Hash([]byte("AuthorizationUsed(address,bytes32)"))
)

// Settlement is a receipt's payment as the chain records it.
type Settlement struct {
	Transaction common.Hash `json:"transaction"`
	Block       uint64      `json:"block"`
	// Token emitted the AuthorizationUsed and Transfer events.
	Token  common.Address `json:"token"`
	Payer  common.Address `json:"payer"`
	PayTo  common.Address `json:"pay_to"`
	Amount *big.Int       `json:"amount"`
	Nonce  common.Hash    `json:"nonce"`
}

// CheckSettlement checks a receipt's payment on chain, through a client of
// the payment's network: the chain id is the network's; the transaction
// the node reported is mined with status 1; one token emitted in it both
// AuthorizationUsed(payer, nonce), for the payer and nonce the commitment
// binds, and Transfer(payer, pay_to, amount) for the amount the node
// reported. When the receipt records the requirements the client paid,
// the token and recipient must be theirs. A receipt without a payment is
// an error: there is nothing to check.
func CheckSettlement(ctx context.Context, ec *ethclient.Client, rc *Receipt) (*Settlement, error) {
	p := rc.Payment
	if p == nil {
		return nil, errors.New("check settlement: the receipt has no payment")
	}
	fail := func(format string, a ...any) (*Settlement, error) {
		return nil, fmt.Errorf("check settlement: "+format, a...)
	}
	network, err := x402.ParseNetwork(p.Network)
	if err != nil {
		return fail("payment network: %v", err)
	}
	want, err := network.ChainID()
	if err != nil {
		return fail("payment network: %v", err)
	}
	if !common.IsHexAddress(p.Payer) {
		return fail("payment payer %q is not an address", p.Payer)
	}
	nonce, err := parseHash(p.Nonce)
	if err != nil {
		return fail("payment nonce: %v", err)
	}
	tx, err := parseHash(p.Transaction)
	if err != nil {
		return fail("payment transaction: %v", err)
	}
	amount, ok := new(big.Int).SetString(p.Amount, 10)
	if !ok || amount.Sign() < 0 {
		return fail("payment amount %q is not a decimal integer", p.Amount)
	}
	id, err := ec.ChainID(ctx)
	if err != nil {
		return fail("read chain id: %v", err)
	}
	if id.Uint64() != want || !id.IsUint64() {
		return fail("the RPC serves chain %s, the payment is on %s", id, network)
	}
	r, err := ec.TransactionReceipt(ctx, tx)
	if err != nil {
		return fail("transaction %s: %v", tx, err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return fail("transaction %s reverted (status %d)", tx, r.Status)
	}
	s := &Settlement{Transaction: tx, Block: r.BlockNumber.Uint64(), Payer: common.HexToAddress(p.Payer), Amount: amount, Nonce: nonce}
	var terms *x402.PaymentRequirements
	if rc.PaymentRequirements != nil {
		terms = rc.PaymentRequirements
		if terms.Network != network || terms.Amount != p.Amount {
			return fail("the receipt's requirements (%s on %s) differ from its payment (%s on %s)", terms.Amount, terms.Network, p.Amount, network)
		}
	}
	for _, l := range r.Logs {
		if !isAuthorizationUsed(l, s.Payer, nonce) {
			continue
		}
		if terms != nil && !strings.EqualFold(l.Address.Hex(), terms.Asset) {
			continue
		}
		for _, t := range r.Logs {
			if t.Address != l.Address || !isTransfer(t, s.Payer, amount) {
				continue
			}
			to := common.BytesToAddress(t.Topics[2].Bytes())
			if terms != nil && !strings.EqualFold(to.Hex(), terms.PayTo) {
				continue
			}
			s.Token, s.PayTo = l.Address, to
			return s, nil
		}
	}
	what := "the token"
	if terms != nil {
		what = fmt.Sprintf("token %s paying %s", terms.Asset, terms.PayTo)
	}
	return fail("transaction %s holds no AuthorizationUsed(%s, %s) with a Transfer of %s from %s by %s", tx, s.Payer, nonce, amount, s.Payer, what)
}

func isAuthorizationUsed(l *types.Log, payer common.Address, nonce common.Hash) bool {
	return len(l.Topics) == 3 && l.Topics[0] == topicAuthorizationUsed &&
		common.BytesToAddress(l.Topics[1].Bytes()) == payer && l.Topics[2] == nonce
}

func isTransfer(l *types.Log, from common.Address, amount *big.Int) bool {
	return len(l.Topics) == 3 && l.Topics[0] == topicTransfer && len(l.Data) == 32 &&
		common.BytesToAddress(l.Topics[1].Bytes()) == from && new(big.Int).SetBytes(l.Data).Cmp(amount) == 0
}

// parseHash parses a 0x-prefixed 32-byte hex value.
func parseHash(s string) (common.Hash, error) {
	b, ok := strings.CutPrefix(s, "0x")
	if !ok || len(b) != 64 {
		return common.Hash{}, fmt.Errorf("%q: want 0x and 64 hex digits", s)
	}
	for _, c := range b {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return common.Hash{}, fmt.Errorf("%q: not hex", s)
		}
	}
	return common.HexToHash(s), nil
}
