package evm_test

import (
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/evm"
)

// A server prices a resource, a client signs a payment for it, and the
// server's facilitator checks it locally (Verify adds the on-chain checks).
func Example() {
	payTo := common.HexToAddress("0x209693Bc6afc0C5328bA36FaF03C514EF312287C")
	req := evm.USDCBaseSepolia.Requirements("10000", payTo, 5*time.Minute)

	key, _ := crypto.HexToECDSA("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
	now := time.Unix(1_800_000_000, 0)
	payload, _ := evm.Sign(key, req, evm.WithTime(now), evm.WithNonce([32]byte{1}))
	header, _ := x402.EncodePaymentPayload(payload)

	received, _ := x402.DecodePaymentPayload(header)
	v, _ := evm.NewVerifier(evm.VerifierConfig{ChainID: 84532, Now: func() time.Time { return now }})
	checked, err := v.Check(received, req)
	fmt.Println(err == nil, checked.Payer().Hex(), checked.Value.Dec())

	req.Amount = "20000"
	_, err = v.Check(received, req)
	fmt.Println(err)
	// Output:
	// true 0x2c7536E3605D9C16a7a3D7b1898e529396a65c23 10000
	// invalid_exact_evm_payload_authorization_value_mismatch: authorization value 10000, required 20000
}
