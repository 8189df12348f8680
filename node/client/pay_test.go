package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/evm"
)

// testTerms are a node's 402 terms on the dev chain.
func testTerms() x402.PaymentRequired {
	a := evm.Asset{Network: "eip155:1337", Address: common.HexToAddress("0x00000000000000000000000000000000000000aa"), Name: "USDC", Version: "2"}
	return x402.PaymentRequired{X402Version: 2, Resource: x402.ResourceInfo{URL: "/x402_execute/verifiable/wasm"},
		Accepts: []x402.PaymentRequirements{a.Requirements("10000", common.HexToAddress("0x00000000000000000000000000000000000000bb"), 300e9)}}
}

func TestChoose(t *testing.T) {
	key, _ := crypto.GenerateKey()
	pr := testTerms()
	for name, tc := range map[string]struct {
		payer *Payer
		mut   func(*x402.PaymentRequirements)
		want  string // "" = pays
	}{
		"pays":           {&Payer{Key: key, MaxPrice: big.NewInt(10000)}, nil, ""},
		"over max price": {&Payer{Key: key, MaxPrice: big.NewInt(9999)}, nil, "over the max price 9999"},
		"no cap, policy": {&Payer{Key: key}, nil, ""},
		"other scheme":   {&Payer{Key: key, MaxPrice: big.NewInt(10000)}, func(r *x402.PaymentRequirements) { r.Scheme = "upto" }, `scheme "upto"`},
		"non-EVM":        {&Payer{Key: key, MaxPrice: big.NewInt(10000)}, func(r *x402.PaymentRequirements) { r.Network = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp" }, "not an EVM chain"},
		"unknown token":  {&Payer{Key: key, MaxPrice: big.NewInt(10000)}, func(r *x402.PaymentRequirements) { r.Network = x402.NetworkBase }, "not one this payer pays in"},
		"base USDC":      {&Payer{Key: key, MaxPrice: big.NewInt(10000)}, func(r *x402.PaymentRequirements) { r.Network, r.Asset = x402.NetworkBase, evm.USDCBase.Address.Hex() }, ""},
		"no domain":      {&Payer{Key: key, MaxPrice: big.NewInt(10000)}, func(r *x402.PaymentRequirements) { r.Extra = nil }, "no EIP-712 domain"},
		"bad amount":     {&Payer{Key: key, MaxPrice: big.NewInt(10000)}, func(r *x402.PaymentRequirements) { r.Amount = "-1" }, "not a decimal integer"},
		"allowed by list": {&Payer{Key: key, MaxPrice: big.NewInt(10000), Assets: []evm.Asset{{Network: "eip155:10", Address: common.HexToAddress("0x01")}}}, func(r *x402.PaymentRequirements) {
			r.Network, r.Asset = "eip155:10", "0x0000000000000000000000000000000000000001"
		}, ""},
	} {
		p := pr
		p.Accepts = []x402.PaymentRequirements{pr.Accepts[0]}
		if tc.mut != nil {
			tc.mut(&p.Accepts[0])
		}
		_, _, err := tc.payer.choose(&p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrCannotPay)):
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func TestPaymentAPIError(t *testing.T) {
	pr := testTerms()
	pr.Error = "invalid_exact_evm_nonce_already_used"
	h := http.Header{}
	if err := x402.SetPaymentRequired(h, pr); err != nil {
		t.Fatal(err)
	}
	e := paymentAPIError(402, h, []byte(`{"x402Version":1,"error":"X-PAYMENT header is required","accepts":[]}`))
	if e.PaymentRequired == nil || e.PaymentRequired.Accepts[0].Amount != "10000" || e.Message != pr.Error || e.Code != "payment_required" {
		t.Fatalf("v2 header: %+v", e)
	}
	// A v1 server: the terms come from the body.
	v1 := x402.PaymentRequired{X402Version: 2, Resource: x402.ResourceInfo{URL: "https://x/paid"},
		Accepts: []x402.PaymentRequirements{evm.USDCBaseSepolia.Requirements("5", common.HexToAddress("0x01"), 60e9)}}
	body, _ := json.Marshal(v1.V1())
	e = paymentAPIError(402, http.Header{}, body)
	if e.PaymentRequired == nil || len(e.PaymentRequired.Accepts) != 1 || e.PaymentRequired.Accepts[0].Network != x402.NetworkBaseSepolia ||
		e.PaymentRequired.Resource.URL != "https://x/paid" {
		t.Fatalf("v1 body: %+v", e.PaymentRequired)
	}
	// Neither: a plain error answer keeps its code and message.
	e = paymentAPIError(402, http.Header{}, []byte(`{"error":{"code":"payment_required","message":"peer x: no payer"}}`))
	if e.PaymentRequired != nil || e.Message != "peer x: no payer" {
		t.Fatalf("plain: %+v", e)
	}
}

func TestParseKeyFile(t *testing.T) {
	key, _ := crypto.GenerateKey()
	h := hexutil.Encode(crypto.FromECDSA(key))
	for name, in := range map[string]string{"0x hex": h + "\n", "bare hex": "  " + h[2:] + " ", "dev.json": `{"payer_key":"` + h + `","token":"0x01","network":"eip155:1337"}`} {
		k, dev, err := ParseKeyFile([]byte(in))
		if err != nil || !k.Equal(key) || (dev != nil) != (name == "dev.json") {
			t.Errorf("%s: %v %v", name, dev, err)
		}
	}
	for name, in := range map[string]string{"short": "0x1234", "not hex": strings.Repeat("zz", 32), "zero key": strings.Repeat("00", 32),
		"dev.json without key": `{"token":"0x01"}`, "bad json": `{"payer_key":`, "oversized": strings.Repeat(" ", MaxKeyFileSize+1)} {
		if _, _, err := ParseKeyFile([]byte(in)); err == nil {
			t.Errorf("%s: parsed", name)
		} else if strings.Contains(err.Error(), "zz") {
			t.Errorf("%s: the error quotes the key: %v", name, err)
		}
	}
}

func FuzzParseKeyFile(f *testing.F) {
	key, _ := crypto.GenerateKey()
	h := hexutil.Encode(crypto.FromECDSA(key))
	for _, s := range []string{h, h[2:] + "\n", `{"payer_key":"` + h + `"}`, `{"payer_key":1}`, "", "{", strings.Repeat("f", 64)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, dev, err := ParseKeyFile(b)
		if err == nil && k == nil {
			t.Fatal("no key and no error")
		}
		if err != nil && (k != nil || dev != nil) {
			t.Fatal("an error with a result")
		}
		if err != nil && len(b) >= 64 && bytes.Contains([]byte(err.Error()), bytes.TrimSpace(b)) {
			t.Fatal("the error quotes the input")
		}
	})
}

func FuzzPaymentAPIError(f *testing.F) {
	pr := testTerms()
	h, _ := x402.EncodePaymentRequired(pr)
	v1, _ := json.Marshal(pr.V1())
	f.Add(h, v1)
	f.Add("", v1)
	f.Add("e30=", []byte(`{"error":{"code":"x","message":"y"}}`))
	f.Add("%%%", []byte("{"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		hdr := http.Header{}
		hdr.Set(x402.HeaderPaymentRequired, header)
		e := paymentAPIError(402, hdr, body)
		if e.Status != 402 || e.Code == "" {
			t.Fatalf("%+v", e)
		}
		if e.PaymentRequired != nil {
			for _, r := range e.PaymentRequired.Accepts {
				if r.Validate() != nil && header == "" {
					t.Fatalf("a v1 entry that does not validate was kept: %+v", r)
				}
			}
		}
	})
}

func FuzzParseHash(f *testing.F) {
	f.Add("0x" + strings.Repeat("ab", 32))
	f.Add("0x" + strings.Repeat("AB", 31))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHash(s)
		if err == nil && !strings.EqualFold(h.Hex(), s) {
			t.Fatalf("%q parsed as %s", s, h.Hex())
		}
	})
}
