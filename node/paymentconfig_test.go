package node_test

import (
	"strings"
	"testing"

	"github.com/agentnet/agentnode/node"
)

func TestPaymentConfig(t *testing.T) {
	c, err := node.ParseConfig([]byte(`
data_dir = "/d"
price = 10000
rpc_url = "https://sepolia.base.org"
network = "base-sepolia"
asset = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
pay_to = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
gas_key_file = "/d/gas.key"
facilitator = true
payer_key_file = "/d/payer.key"
max_price = 5000
payee_policy = "/d/payee.star"
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.TakesPayments() || c.Network != "eip155:84532" || c.PaymentTimeout.Duration != node.DefaultPaymentTimeout {
		t.Fatalf("payment config %+v", c.PaymentConfig)
	}
	remote := node.Config{DataDir: "/d", Price: 1}
	remote.Asset, remote.PayTo, remote.FacilitatorURL, remote.Network = "0x036CbD53842c5426634e7929541eC2318f3dCF7e", "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "https://x402.org/facilitator", "eip155:84532"
	if err := remote.Validate(); err != nil || !remote.TakesPayments() {
		t.Fatalf("remote facilitator: %v", err)
	}

	const asset, payTo = `asset = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"`, `pay_to = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"`
	for name, tc := range map[string]struct{ src, want string }{
		"price without terms":        {`price = 1`, "price 1: charging needs asset, pay_to and a facilitator"},
		"terms without facilitator":  {asset + "\n" + payTo, "missing gas_key_file or facilitator_url"},
		"facilitator without pay_to": {asset + "\nfacilitator_url = \"https://f\"", "missing pay_to"},
		"two facilitators":           {asset + "\n" + payTo + "\nrpc_url = \"http://x\"\ngas_key_file = \"k\"\nfacilitator_url = \"https://f\"", "choose one facilitator"},
		"gas key without rpc":        {asset + "\n" + payTo + "\ngas_key_file = \"k\"", "needs rpc_url"},
		"serve remote facilitator":   {asset + "\n" + payTo + "\nfacilitator_url = \"https://f\"\nnetwork = \"base\"\nfacilitator = true", "set gas_key_file"},
		"remote without network":     {asset + "\n" + payTo + "\nfacilitator_url = \"https://f\"", "network: give the chain's CAIP-2 id"},
		"bad address":                {`asset = "0x12"` + "\n" + payTo + "\nfacilitator_url = \"https://f\"\nnetwork = \"base\"", "asset \"0x12\""},
		"bad network":                {`network = "mars"`, "network \"mars\""},
		"non-EVM network":            {`network = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"`, "only EVM"},
		"half a domain":              {`token_name = "USDC"`, "give both"},
		"payer without limit":        {`payer_key_file = "k"`, "set max_price or payer_policy"},
		"limit without payer":        {`max_price = 5`, "set payer_key_file too"},
		"short payment timeout":      {`payment_timeout = "5s"`, "payment_timeout 5s"},
	} {
		c, err := node.ParseConfig([]byte("data_dir = \"/d\"\n" + tc.src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}
