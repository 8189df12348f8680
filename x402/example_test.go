package x402_test

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/agentnet/agentnode/x402"
)

// A 402 answer that serves both protocol versions: the v2 object in the
// PAYMENT-REQUIRED header, the v1 object as the JSON body.
func ExampleSetPaymentRequired() {
	pr := x402.PaymentRequired{
		X402Version: x402.Version,
		Resource:    x402.ResourceInfo{URL: "http://127.0.0.1:3000/x402_execute/verifiable/wasm"},
		Accepts: []x402.PaymentRequirements{{
			Scheme: x402.SchemeExact, Network: x402.NetworkBaseSepolia, Amount: "10000",
			Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
			MaxTimeoutSeconds: 300, Extra: map[string]any{"name": "USDC", "version": "2"},
		}},
	}
	h := http.Header{}
	if err := x402.SetPaymentRequired(h, pr); err != nil {
		panic(err)
	}
	back, _ := x402.DecodePaymentRequired(h.Get("Payment-Required"))
	body, _ := json.Marshal(pr.V1())
	fmt.Println(back.Accepts[0].Amount, h.Get("Cache-Control"))
	fmt.Println(string(body))
	// Output:
	// 10000 no-store
	// {"x402Version":1,"error":"X-PAYMENT header is required","accepts":[{"scheme":"exact","network":"base-sepolia","maxAmountRequired":"10000","resource":"http://127.0.0.1:3000/x402_execute/verifiable/wasm","description":"","mimeType":"","outputSchema":null,"payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":300,"asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","extra":{"name":"USDC","version":"2"}}]}
}
