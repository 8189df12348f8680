package client

import (
	"context"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	bolt "go.etcd.io/bbolt"

	"github.com/agentnet/agentnode/script"
	"github.com/agentnet/agentnode/x402/policy"
)

// TestCallTerms: an ExecInput's MaxPrice caps the payment below the payer's, and its
// Origin is what the payer policy sees (here a policy that pays only for the agent
// "research").
func TestCallTerms(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	src := `def decide(p):
    return p["origin"]["kind"] == "agent" and p["origin"]["agent"] == "research"
`
	pol, err := policy.NewPayer(context.Background(), policy.PayerConfig{DB: db, Policy: &script.Program{Filename: "payer.star", Source: []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.GenerateKey()
	c := &Client{cfg: Config{Payer: &Payer{Key: key, MaxPrice: big.NewInt(20000), Policy: pol}}}
	s := &Session{PeerID: "12D3KooWpeer", Platform: "sim"}
	pr := testTerms() // 10000
	ctx := context.Background()
	research := &policy.Origin{Kind: policy.OriginAgent, Agent: "research"}

	p, err := c.preparePayment(ctx, s, ExecInput{Agent: "arxiv", MaxPrice: big.NewInt(10000), Origin: research}, &pr)
	if err != nil || p.hold == nil || p.amount.Int64() != 10000 {
		t.Fatalf("within the call's max price: %v", err)
	}
	c.endHold(ctx, p, false)

	_, err = c.preparePayment(ctx, s, ExecInput{Agent: "arxiv", MaxPrice: big.NewInt(9999), Origin: research}, &pr)
	if !errors.Is(err, ErrCannotPay) || !strings.Contains(err.Error(), "over this call's max price 9999") {
		t.Fatalf("over the call's max price: %v", err)
	}
	_, err = c.preparePayment(ctx, s, ExecInput{Agent: "arxiv", Origin: &policy.Origin{Kind: policy.OriginAgent, Agent: "other"}}, &pr)
	if !errors.Is(err, ErrCannotPay) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("another agent: %v", err)
	}
	_, err = c.preparePayment(ctx, s, ExecInput{Agent: "arxiv"}, &pr) // the payer's own origin: a user
	if !errors.Is(err, ErrCannotPay) {
		t.Fatalf("a user's payment: %v", err)
	}
}
