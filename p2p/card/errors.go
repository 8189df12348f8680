package card

import "errors"

// Sentinel errors. Callers match them with errors.Is; messages wrap them
// with the detail.
var (
	// ErrTooLarge is returned when a signed card or index exceeds MaxSize,
	// or a field exceeds its own cap.
	ErrTooLarge = errors.New("agent card too large")
	// ErrBadKey is returned when a DHT key is not /agentnet-card/<peer id>
	// or /agentnet-card/<peer id>/<name>.
	ErrBadKey = errors.New("malformed agent card key")
	// ErrBadSignature is returned when the envelope does not verify under
	// its public key and the card domain, or has another payload type.
	ErrBadSignature = errors.New("agent card signature does not verify")
	// ErrPeerMismatch is returned when the signing key, the card's peer id
	// and the key's peer id are not all the same peer.
	ErrPeerMismatch = errors.New("agent card peer id does not match its signer or key")
	// ErrNameMismatch is returned when a card is stored under another
	// agent name than it carries.
	ErrNameMismatch = errors.New("agent card name does not match its key")
	// ErrSchema is returned when a card decodes but breaks a field rule:
	// a bad name, tag, price, hash, time order or epoch.
	ErrSchema = errors.New("agent card violates schema")
	// ErrExpired is returned when a card's expires_at has passed.
	ErrExpired = errors.New("agent card expired")
	// ErrWithdrawn is returned by Verify for a tombstone: the publisher
	// withdrew the agent.
	ErrWithdrawn = errors.New("agent withdrawn")
	// ErrEvidence is returned when a card's attestation evidence does not
	// verify, is not bound to the card's identity key and epoch, or fails
	// the caller's policy. The attest sentinel is wrapped as well.
	ErrEvidence = errors.New("agent card evidence rejected")
	// ErrNoSelection is returned by Select when no value decodes.
	ErrNoSelection = errors.New("no valid agent card to select")
	// ErrUnknownAgent is returned by Publisher.Withdraw for a name it does
	// not publish.
	ErrUnknownAgent = errors.New("agent not published here")
	// ErrClosed is returned by a closed Publisher.
	ErrClosed = errors.New("card publisher closed")
)
