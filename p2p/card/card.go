// Package card is the agent card of DESIGN.md 2.3: a record signed by the
// node's identity key that says who serves an agent (peer id, addresses),
// what it is (name, description, tags, module hash), what it costs (price
// and payment terms) and where it runs (attestation evidence bound to the
// identity key for one epoch).
//
// A card travels as a libp2p record.Envelope (domain
// "agentnet/agent-card/v1", a private-use codec) and is stored in the DHT
// under /agentnet-card/<peer id>/<name>. Next to the cards, each node keeps
// an [Index] under /agentnet-card/<peer id> that names its agents, so a
// searcher can read a node's cards from the DHT without reaching the node.
//
// The package has four parts: the record and its codec (this file,
// codec.go, index.go); the DHT [Validator], which checks everything that is
// cheap (signature, key and peer match, size, schema, expiry) and leaves the
// evidence to consumers; the [Verifier] consumers run, which adds the
// evidence against their attest.Policy; and the [Publisher], which issues,
// republishes and withdraws a node's cards and provides the term records of
// the search index ([Terms], [TermCID]).
package card

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
)

// Wire constants.
const (
	// Domain is the envelope signature domain of a card.
	Domain = "agentnet/agent-card/v1"
	// IndexDomain is the envelope signature domain of an index.
	IndexDomain = "agentnet/agent-index/v1"
	// Namespace is the DHT key namespace of cards and indexes.
	Namespace = "agentnet-card"
	// MaxSize caps a signed card or index. A TDX quote (about 5 KiB) or an
	// SNP report with its certificate table (up to 10 KiB) fits, base64
	// encoded, with room for the text fields.
	MaxSize = 24 << 10
	// EpochLength is the period card evidence is bound to:
	// epoch = issued_at (Unix seconds) / EpochLength.
	EpochLength = time.Hour
	// MaxLifetime bounds expires_at - issued_at, so that a card signed
	// long ago cannot claim to live on.
	MaxLifetime = 48 * time.Hour
	// MaxClockSkew is how far in the future issued_at may lie.
	MaxClockSkew = 5 * time.Minute
)

// Field caps.
const (
	MaxNameLen        = 64
	MaxDescriptionLen = 2048
	MaxTags           = 16
	MaxTagLen         = 32
	MaxAddrs          = 16
	MaxAddrLen        = 256
	MaxPriceFieldLen  = 128
)

// Codecs are the envelope payload types, from the multicodec private-use
// range (0x300000-0x3fffff) as unsigned varints.
var (
	Codec      = []byte{0x81, 0xd4, 0xc0, 0x01} // 0x302a01
	IndexCodec = []byte{0x82, 0xd4, 0xc0, 0x01} // 0x302a02
)

// Price holds the payment terms of an agent as plain fields, the ones an
// x402 PaymentRequirements needs.
type Price struct {
	// Amount is the price per call in the asset's atomic units, a decimal
	// integer; "0" means free.
	Amount string `json:"amount"`
	// Asset is the token (contract address) payments are made in.
	Asset string `json:"asset,omitempty"`
	// Network is the chain, such as "eip155:84532".
	Network string `json:"network,omitempty"`
	// PayTo is the address that receives payments.
	PayTo string `json:"pay_to,omitempty"`
}

// Free reports whether the agent costs nothing.
func (p Price) Free() bool { return p.Amount == "0" }

// Card is an agent card.
type Card struct {
	PeerID       peer.ID
	Name         string
	Description  string
	Tags         []string
	Price        Price
	ModuleSHA256 [32]byte
	// Evidence is the TEE's quote over
	// attest.CardReportData(identity_pubkey, Epoch).
	Evidence attest.Evidence
	Epoch    uint64
	// Seq grows with every card the node issues, across restarts; the
	// highest wins in the DHT.
	Seq       uint64
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Addrs are the node's multiaddrs, so a client can dial it without a
	// peer lookup.
	Addrs []string
	// Withdrawn marks a tombstone: the node no longer serves the agent.
	Withdrawn bool
}

// Signed is a card together with its signed envelope bytes and signer.
type Signed struct {
	Card
	// PublicKey is the identity key that signed the card.
	PublicKey crypto.PubKey
	// Raw is the marshalled envelope, what the DHT stores.
	Raw []byte
}

// IdentityKey returns the signer's key as crypto.MarshalPublicKey encodes
// it: the identity_pubkey of the evidence binding.
func (s *Signed) IdentityKey() ([]byte, error) {
	b, err := crypto.MarshalPublicKey(s.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("marshal card signer key: %w", err)
	}
	return b, nil
}

// Key returns the DHT key of the card.
func (c *Card) Key() string { return Key(c.PeerID, c.Name) }

// Key returns the DHT key of agent name on peer p.
func Key(p peer.ID, name string) string {
	return "/" + Namespace + "/" + p.String() + "/" + name
}

// IndexKey returns the DHT key of peer p's index.
func IndexKey(p peer.ID) string { return "/" + Namespace + "/" + p.String() }

// ParseKey splits a card key into peer id and name; name is empty for an
// index key.
func ParseKey(key string) (peer.ID, string, error) {
	rest, ok := strings.CutPrefix(key, "/"+Namespace+"/")
	if !ok {
		return "", "", fmt.Errorf("parse key %q: %w", key, ErrBadKey)
	}
	idStr, name, hasName := strings.Cut(rest, "/")
	id, err := peer.Decode(idStr)
	if err != nil {
		return "", "", fmt.Errorf("parse key %q: peer id: %v: %w", key, err, ErrBadKey)
	}
	if hasName {
		if err := checkName(name); err != nil {
			return "", "", fmt.Errorf("parse key %q: %w", key, err)
		}
	}
	return id, name, nil
}

// Epoch returns the evidence epoch of time t.
func Epoch(t time.Time) uint64 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	return uint64(s) / uint64(EpochLength/time.Second)
}

// Seal signs c with key into an envelope. c.PeerID must be key's peer id;
// the result is checked against the schema, so Seal never produces a card
// the validator would refuse (except for expiry).
func Seal(c *Card, key crypto.PrivKey) (*Signed, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("seal card: peer id of key: %w", err)
	}
	if c.PeerID != id {
		return nil, fmt.Errorf("seal card: card peer %s, key peer %s: %w", c.PeerID, id, ErrPeerMismatch)
	}
	if err := c.checkSchema(); err != nil {
		return nil, fmt.Errorf("seal card %q: %w", c.Name, err)
	}
	env, err := record.Seal(&wireCard{card: c}, key)
	if err != nil {
		return nil, fmt.Errorf("seal card %q: %w", c.Name, err)
	}
	raw, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal card %q envelope: %w", c.Name, err)
	}
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("seal card %q: %d bytes, cap %d: %w", c.Name, len(raw), MaxSize, ErrTooLarge)
	}
	return &Signed{Card: *c, PublicKey: key.GetPublic(), Raw: raw}, nil
}

// Open checks a signed card's size, signature, payload type, schema and
// that its signer is its peer. It does not check expiry or evidence: see
// [Validator] and [Verifier].
func Open(raw []byte) (*Signed, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("open card: %d bytes, cap %d: %w", len(raw), MaxSize, ErrTooLarge)
	}
	var w wireCard
	pub, err := consume(raw, &w, Codec)
	if err != nil {
		return nil, fmt.Errorf("open card: %w", err)
	}
	c := w.card
	if err := checkSigner(pub, c.PeerID); err != nil {
		return nil, fmt.Errorf("open card %q: %w", c.Name, err)
	}
	if err := c.checkSchema(); err != nil {
		return nil, fmt.Errorf("open card %q: %w", c.Name, err)
	}
	return &Signed{Card: *c, PublicKey: pub, Raw: raw}, nil
}

// consume verifies an envelope under rec's domain and payload type and
// decodes its payload into rec. Cheap checks (key type, payload type) run
// before the signature.
func consume(raw []byte, rec record.Record, codec []byte) (crypto.PubKey, error) {
	env, err := record.UnmarshalEnvelope(raw)
	if err != nil {
		return nil, fmt.Errorf("decode envelope: %v: %w", err, ErrBadSignature)
	}
	if env.PublicKey.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("signer key type %s, want Ed25519: %w", env.PublicKey.Type(), ErrBadSignature)
	}
	if !bytes.Equal(env.PayloadType, codec) {
		return nil, fmt.Errorf("payload type %x, want %x: %w", env.PayloadType, codec, ErrBadSignature)
	}
	if _, err := record.ConsumeTypedEnvelope(raw, rec); err != nil {
		if errors.Is(err, ErrSchema) || errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("verify envelope: %v: %w", err, ErrBadSignature)
	}
	return env.PublicKey, nil
}

func checkSigner(pub crypto.PubKey, claimed peer.ID) error {
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return fmt.Errorf("peer id of signer: %v: %w", err, ErrPeerMismatch)
	}
	if id != claimed {
		return fmt.Errorf("signed by %s, claims %s: %w", id, claimed, ErrPeerMismatch)
	}
	return nil
}
