package evm

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/x402test"
)

// A payment verified by the settler at the chain's current head is not
// read again by its settlement, once; after a new block, it is.
func TestVerifiedAtHeadSparesOneRead(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	ctx := context.Background()
	s, err := NewSettler(ctx, SettlerConfig{RPC: env.Chain.Client().Client(), Key: env.GasKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	newBlock := func() {
		t.Helper()
		before, _ := s.watcher.currentHead()
		k, _ := crypto.GenerateKey()
		if err := env.Chain.Fund(ctx, crypto.PubkeyToAddress(k.PublicKey), big.NewInt(1), nil); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			if h, live := s.watcher.currentHead(); live && h > before {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the watcher saw no new head")
			}
		}
	}
	newBlock() // the watcher has a head
	req := env.Requirements("100")
	p, err := Sign(env.PayerKey, req)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(ctx, p, req)
	if err != nil {
		t.Fatal(err)
	}
	key, digest := c.authKey(), c.StructHash()
	if !s.verifiedAtHead(key, digest) {
		v, ok := s.verified.Peek(key)
		h, live := s.watcher.currentHead()
		t.Fatalf("a payment verified at the current head is read again: %+v %v head %d %v", v, ok, h, live)
	}
	if s.verifiedAtHead(key, digest) {
		t.Fatal("one verification spared two reads")
	}
	if _, err := s.Verify(ctx, p, req); err != nil {
		t.Fatal(err)
	}
	if s.verifiedAtHead(key, common.Hash{1}) {
		t.Fatal("another authorization with the same nonce was taken as verified")
	}
	newBlock()
	if s.verifiedAtHead(key, digest) {
		t.Fatal("a verification from before the last block was trusted")
	}
}
