package policy

import (
	"context"
	"errors"
	"math/big"
	"testing"
)

func TestPayee(t *testing.T) {
	ctx := context.Background()
	req := func(agent, caller string, size int64) Request {
		return Request{Agent: agent, InputSize: size, Caller: caller, DefaultPrice: big.NewInt(10000), Network: network, Asset: asset}
	}
	def, err := NewPayee(ctx, PayeeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if q, err := def.Price(ctx, req("a", "", 10)); err != nil || q.Price.Int64() != 10000 || q.Policy != "default" {
		t.Fatalf("default price: %+v %v", q, err)
	}
	p, err := NewPayee(ctx, PayeeConfig{Policy: program(t, "testdata/payee.star")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		r     Request
		price int64
		desc  string
	}{
		{req("summarize", "12D3KooWFriendlyPeer", 5000), 0, "free for friends"},
		{req("summarize", "12D3KooWStranger", 4096), 10400, "summarize: base + 100 per KiB"},
		{req("summarize", "", 100), 10000, "summarize: base + 100 per KiB"},
		{req("echo", "", 1<<20), 0, ""},
	} {
		q, err := p.Price(ctx, c.r)
		if err != nil || q.Price.Int64() != c.price || q.Description != c.desc || q.Policy != "payee.star" {
			t.Errorf("%+v: %+v %v", c.r, q, err)
		}
	}
	for name, src := range map[string]string{
		"negative":    "def price(r):\n    return -1\n",
		"string":      "def price(r):\n    return '10'\n",
		"no price":    "def price(r):\n    return {'description': 'x'}\n",
		"bad desc":    "def price(r):\n    return {'price': 1, 'description': 5}\n",
		"huge":        "def price(r):\n    return 1 << 300\n",
		"loops":       "def price(r):\n    while True:\n        pass\n",
		"float price": "def price(r):\n    return 1.5\n",
	} {
		p, err := NewPayee(ctx, PayeeConfig{Policy: inline(src)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if q, err := p.Price(ctx, req("a", "", 1)); err == nil {
			t.Errorf("%s: accepted %+v", name, q)
		}
	}
	none, _ := NewPayee(ctx, PayeeConfig{Policy: inline("def price(r):\n    return None\n")})
	if q, err := none.Price(ctx, req("a", "", 1)); err != nil || q.Price.Int64() != 10000 {
		t.Fatalf("None means the default price: %+v %v", q, err)
	}
	if _, err := none.Price(ctx, Request{Agent: "a"}); !errors.Is(err, ErrBadPayment) {
		t.Fatalf("request without a default price: %v", err)
	}
	if _, err := NewPayee(ctx, PayeeConfig{Policy: inline("def decide(p):\n    return True\n")}); !errors.Is(err, ErrNoEntryPoint) {
		t.Fatalf("payee policy without price: %v", err)
	}
}
