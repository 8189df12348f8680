package evm

import (
	"context"

	"github.com/ethereum/go-ethereum/common"

	"github.com/agentnet/agentnode/x402"
)

// verifiedAt is the chain head at which a settler verified an
// authorization, and which authorization (its digest).
type verifiedAt struct {
	digest common.Hash
	head   uint64
}

// Verify verifies p against req as Verifier.Verify does, and remembers
// the chain head it read at. A Settle of the same payment before the
// chain has a new block then skips its own read of the token: it would
// read the same state again. A payment whose authorization a transaction
// of that same block has used meanwhile is still caught: the transfer
// reverts, and the settler then looks for the transaction that used it.
func (s *Settler) Verify(ctx context.Context, p x402.PaymentPayload, req x402.PaymentRequirements) (Checked, error) {
	head, live := s.watcher.currentHead()
	c, err := s.verifier.Verify(ctx, p, req)
	if err != nil || !live {
		return c, err
	}
	s.verified.Add(c.authKey(), verifiedAt{digest: c.StructHash(), head: head})
	return c, nil
}

// verifiedAtHead reports whether this settler verified the authorization
// of key and digest at the chain's current head; it answers once per
// verification.
func (s *Settler) verifiedAtHead(key authKey, digest common.Hash) bool {
	v, ok := s.verified.Peek(key)
	if !ok || v.digest != digest {
		return false
	}
	s.verified.Remove(key)
	head, live := s.watcher.currentHead()
	return live && head == v.head
}
