package card

import (
	"bytes"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Validator is the DHT record validator of the agentnet-card namespace.
// Every DHT server runs it on every write and every requester on every
// value it receives, so it checks only what is cheap: size, envelope
// signature, that signer, value and key name the same peer (and agent),
// schema, and expiry. Attestation evidence is the consumer's business
// ([Verifier]).
type Validator struct {
	// Now is the clock expiry is checked against; nil means time.Now.
	Now func() time.Time
}

func (v Validator) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Validate implements record.Validator.
func (v Validator) Validate(key string, value []byte) error {
	if len(value) > MaxSize {
		return fmt.Errorf("validate %s: %d bytes, cap %d: %w", key, len(value), MaxSize, ErrTooLarge)
	}
	id, name, err := ParseKey(key)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	issued, expires, err := v.open(id, name, value)
	if err != nil {
		return fmt.Errorf("validate %s: %w", key, err)
	}
	now := v.now()
	if issued.After(now.Add(MaxClockSkew)) {
		return fmt.Errorf("validate %s: issued_at %s is in the future: %w", key, issued.Format(time.RFC3339), ErrSchema)
	}
	if !now.Before(expires) {
		return fmt.Errorf("validate %s: expired at %s: %w", key, expires.Format(time.RFC3339), ErrExpired)
	}
	return nil
}

// open decodes value as the record kind the key names and checks it
// belongs under the key.
func (Validator) open(id peer.ID, name string, value []byte) (issued, expires time.Time, err error) {
	if name == "" {
		x, err := OpenIndex(value)
		if err != nil {
			return issued, expires, err
		}
		if x.PeerID != id {
			return issued, expires, fmt.Errorf("index of %s under key of %s: %w", x.PeerID, id, ErrPeerMismatch)
		}
		return x.IssuedAt, x.ExpiresAt, nil
	}
	c, err := Open(value)
	if err != nil {
		return issued, expires, err
	}
	if c.PeerID != id {
		return issued, expires, fmt.Errorf("card of %s under key of %s: %w", c.PeerID, id, ErrPeerMismatch)
	}
	if c.Name != name {
		return issued, expires, fmt.Errorf("card %q under key of %q: %w", c.Name, name, ErrNameMismatch)
	}
	return c.IssuedAt, c.ExpiresAt, nil
}

// Select implements record.Validator: the highest seq wins, then the later
// issued_at, then the lexically larger bytes, so every node picks the same
// value. Values that do not open (signature and schema) lose to any that
// does; expiry is Validate's business.
func (Validator) Select(key string, values [][]byte) (int, error) {
	_, name, err := ParseKey(key)
	if err != nil {
		return 0, fmt.Errorf("select: %w", err)
	}
	best := -1
	var bestSeq uint64
	var bestIssued time.Time
	for i, val := range values {
		seq, issued, ok := peekOrder(name == "", val)
		if !ok {
			continue
		}
		if best >= 0 {
			switch {
			case seq != bestSeq:
				if seq < bestSeq {
					continue
				}
			case !issued.Equal(bestIssued):
				if issued.Before(bestIssued) {
					continue
				}
			case bytes.Compare(val, values[best]) <= 0:
				continue
			}
		}
		best, bestSeq, bestIssued = i, seq, issued
	}
	if best < 0 {
		return 0, fmt.Errorf("select %s among %d values: %w", key, len(values), ErrNoSelection)
	}
	return best, nil
}

// peekOrder returns the selection fields of a value, decoding it fully
// (schema included) but without checking expiry.
func peekOrder(index bool, val []byte) (uint64, time.Time, bool) {
	if index {
		x, err := OpenIndex(val)
		if err != nil {
			return 0, time.Time{}, false
		}
		return x.Seq, x.IssuedAt, true
	}
	c, err := Open(val)
	if err != nil {
		return 0, time.Time{}, false
	}
	return c.Seq, c.IssuedAt, true
}
