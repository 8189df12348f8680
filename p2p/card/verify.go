package card

import (
	"context"
	"fmt"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
)

// Verifier is what a consumer of cards runs before trusting one: the
// envelope and schema checks of [Open], expiry, and the attestation
// evidence against the consumer's own policy, bound to the card's signer
// and epoch with attest.CardReportData.
type Verifier struct {
	// Verifiers checks evidence per platform. Required.
	Verifiers attest.Verifiers
	// Policy is what the consumer requires of the evidence; nil means
	// attest.DefaultPolicy, which refuses the simulated TEE.
	Policy *attest.Policy
	// Now is the clock expiry is checked against; nil means time.Now.
	Now func() time.Time
}

// Verified is a card whose signature, expiry and evidence were checked.
type Verified struct {
	*Signed
	// Claims are what the evidence says about the TEE.
	Claims *attest.Claims
}

// Verify opens raw and checks it as [Verifier.VerifySigned] does.
func (v Verifier) Verify(ctx context.Context, raw []byte) (*Verified, error) {
	s, err := Open(raw)
	if err != nil {
		return nil, err
	}
	return v.VerifySigned(ctx, s)
}

// VerifySigned checks an opened card: not withdrawn, not expired, not
// issued in the future, and evidence that verifies under the policy and is
// bound to the signer's key and the card's epoch.
func (v Verifier) VerifySigned(ctx context.Context, s *Signed) (*Verified, error) {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	switch {
	case s.Withdrawn:
		return nil, fmt.Errorf("verify card %s/%s: %w", s.PeerID, s.Name, ErrWithdrawn)
	case !now.Before(s.ExpiresAt):
		return nil, fmt.Errorf("verify card %s/%s: expired at %s: %w", s.PeerID, s.Name, s.ExpiresAt.Format(time.RFC3339), ErrExpired)
	case s.IssuedAt.After(now.Add(MaxClockSkew)):
		return nil, fmt.Errorf("verify card %s/%s: issued in the future: %w", s.PeerID, s.Name, ErrSchema)
	}
	pub, err := s.IdentityKey()
	if err != nil {
		return nil, err
	}
	want := attest.CardReportData(pub, s.Epoch)
	claims, err := v.Verifiers.Verify(ctx, s.Evidence, want, v.Policy)
	if err != nil {
		return nil, fmt.Errorf("verify card %s/%s: %w: %w", s.PeerID, s.Name, ErrEvidence, err)
	}
	return &Verified{Signed: s, Claims: claims}, nil
}
