// Package seal encrypts messages to a public key with HPKE (RFC 9180, base
// mode, single shot), using the standard library's crypto/hpke.
//
// An envelope is the KEM encapsulation followed by the AEAD ciphertext:
//
//	envelope = enc || Seal(key, nonce_0, aad, plaintext)
//
// The encapsulation has a fixed length per suite, so an envelope needs no
// other framing. Two suites are offered: [X25519] (DHKEM(X25519,
// HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305), the default, and
// [MLKEM768X25519], the same KDF and AEAD over the hybrid post-quantum KEM
// ML-KEM-768 + X25519, for payloads that must stay secret past the arrival
// of quantum computers.
package seal

import (
	"crypto/ecdh"
	"crypto/hpke"
	"fmt"
)

// Suite names an HPKE cipher suite.
type Suite string

// The suites agentnode speaks.
const (
	// X25519 is DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305.
	X25519 Suite = "x25519"
	// MLKEM768X25519 is the hybrid KEM MLKEM768-X25519 (X-Wing style),
	// HKDF-SHA256, ChaCha20-Poly1305.
	MLKEM768X25519 Suite = "mlkem768x25519"
)

// DefaultSuite is used when a request names none.
const DefaultSuite = X25519

// Suites lists every supported suite, default first.
func Suites() []Suite { return []Suite{X25519, MLKEM768X25519} }

// ParseSuite returns the suite named s; the empty string means DefaultSuite.
func ParseSuite(s string) (Suite, error) {
	switch Suite(s) {
	case "":
		return DefaultSuite, nil
	case X25519, MLKEM768X25519:
		return Suite(s), nil
	}
	return "", fmt.Errorf("parse suite %q (want %q or %q): %w", s, X25519, MLKEM768X25519, ErrUnknownSuite)
}

func (s Suite) kem() (hpke.KEM, error) {
	switch s {
	case X25519:
		return hpke.DHKEM(ecdh.X25519()), nil
	case MLKEM768X25519:
		return hpke.MLKEM768X25519(), nil
	}
	return nil, fmt.Errorf("suite %q: %w", s, ErrUnknownSuite)
}

// EncapsulationSize is the length of the KEM encapsulation that starts
// every envelope of suite s, or 0 for an unknown suite.
func (s Suite) EncapsulationSize() int {
	switch s {
	case X25519:
		return 32
	case MLKEM768X25519:
		return 1120
	}
	return 0
}

// Overhead is how much longer than its plaintext an envelope of suite s is.
func (s Suite) Overhead() int { return s.EncapsulationSize() + 16 }

// PrivateKey is an HPKE decapsulation key of one suite.
type PrivateKey struct {
	suite Suite
	key   hpke.PrivateKey
	pub   *PublicKey
}

// PublicKey is an HPKE encapsulation key of one suite.
type PublicKey struct {
	suite Suite
	key   hpke.PublicKey
	raw   []byte
}

// GenerateKey returns a fresh key pair of suite s.
func GenerateKey(s Suite) (*PrivateKey, error) {
	kem, err := s.kem()
	if err != nil {
		return nil, err
	}
	k, err := kem.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", s, err)
	}
	return newPrivateKey(s, k), nil
}

func newPrivateKey(s Suite, k hpke.PrivateKey) *PrivateKey {
	pub := k.PublicKey()
	return &PrivateKey{suite: s, key: k, pub: &PublicKey{suite: s, key: pub, raw: pub.Bytes()}}
}

// Suite returns the key's suite.
func (k *PrivateKey) Suite() Suite { return k.suite }

// PublicKey returns the matching encapsulation key.
func (k *PrivateKey) PublicKey() *PublicKey { return k.pub }

// ParsePublicKey decodes a serialized public key of suite s (RFC 9180
// SerializePublicKey: 32 bytes for X25519, 1216 for MLKEM768X25519).
func ParsePublicKey(s Suite, b []byte) (*PublicKey, error) {
	kem, err := s.kem()
	if err != nil {
		return nil, err
	}
	k, err := kem.NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("parse %s public key of %d bytes: %w", s, len(b), ErrBadKey)
	}
	return &PublicKey{suite: s, key: k, raw: k.Bytes()}, nil
}

// Suite returns the key's suite.
func (p *PublicKey) Suite() Suite { return p.suite }

// Bytes returns the serialized key. The caller must not modify it.
func (p *PublicKey) Bytes() []byte { return p.raw }

// Seal encrypts plaintext to pub, binding info (the protocol and purpose)
// and aad (the message's context), and returns the envelope.
func Seal(pub *PublicKey, info, aad, plaintext []byte) ([]byte, error) {
	enc, s, err := hpke.NewSender(pub.key, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), info)
	if err != nil {
		return nil, fmt.Errorf("seal to %s key: %w", pub.suite, err)
	}
	ct, err := s.Seal(aad, plaintext)
	if err != nil {
		return nil, fmt.Errorf("seal to %s key: %w", pub.suite, err)
	}
	return append(enc, ct...), nil
}

// Open decrypts an envelope sealed to priv's public key with the same info
// and aad. Any change to the envelope, info or aad makes it fail with
// ErrDecrypt; a short envelope fails with ErrMalformed.
func Open(priv *PrivateKey, info, aad, envelope []byte) ([]byte, error) {
	n := priv.suite.EncapsulationSize()
	if len(envelope) < n+16 {
		return nil, fmt.Errorf("open %s envelope of %d bytes: %w", priv.suite, len(envelope), ErrMalformed)
	}
	r, err := hpke.NewRecipient(envelope[:n], priv.key, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), info)
	if err != nil {
		return nil, fmt.Errorf("open %s envelope: %w", priv.suite, ErrDecrypt)
	}
	pt, err := r.Open(aad, envelope[n:])
	if err != nil {
		return nil, fmt.Errorf("open %s envelope: %w", priv.suite, ErrDecrypt)
	}
	return pt, nil
}
