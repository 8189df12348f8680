package enclave

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Identity is the node's long-term Ed25519 key in libp2p's format, so the
// p2p host can use the same key and peer id. It signs results and agent
// cards; attestation evidence binds its public key.
type Identity struct {
	priv   crypto.PrivKey
	pub    []byte // crypto.MarshalPublicKey form, as sent on the wire
	peerID peer.ID
}

// GenerateIdentity returns a fresh identity key.
func GenerateIdentity() (*Identity, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate identity key: %w", err)
	}
	return newIdentity(priv)
}

// LoadOrCreateIdentity reads the identity key at path (libp2p protobuf
// format) or, when the file does not exist, creates it with mode 0600.
func LoadOrCreateIdentity(path string) (*Identity, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		priv, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("decode identity key %s: %w", path, err)
		}
		if priv.Type() != crypto.Ed25519 {
			return nil, fmt.Errorf("identity key %s is %s, want Ed25519", path, priv.Type())
		}
		return newIdentity(priv)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read identity key: %w", err)
	}
	id, err := GenerateIdentity()
	if err != nil {
		return nil, err
	}
	raw, err := crypto.MarshalPrivateKey(id.priv)
	if err != nil {
		return nil, fmt.Errorf("encode identity key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create identity key dir: %w", err)
	}
	// O_EXCL: two nodes racing on one data dir must not end with two keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create identity key: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return nil, fmt.Errorf("write identity key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write identity key: %w", err)
	}
	return id, nil
}

func newIdentity(priv crypto.PrivKey) (*Identity, error) {
	pub, err := crypto.MarshalPublicKey(priv.GetPublic())
	if err != nil {
		return nil, fmt.Errorf("encode identity public key: %w", err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("derive peer id: %w", err)
	}
	return &Identity{priv: priv, pub: pub, peerID: id}, nil
}

// PrivKey returns the key for the p2p host. It must not leave the process.
func (id *Identity) PrivKey() crypto.PrivKey { return id.priv }

// PublicKey returns the public key in libp2p's protobuf encoding.
func (id *Identity) PublicKey() []byte { return id.pub }

// PeerID returns the libp2p peer id of the key.
func (id *Identity) PeerID() peer.ID { return id.peerID }

// SignCommitment signs a result commitment (see [VerifyCommitmentSignature]).
func (id *Identity) SignCommitment(commitment [32]byte) ([]byte, error) {
	sig, err := id.priv.Sign(commitmentSigningMessage(commitment))
	if err != nil {
		return nil, fmt.Errorf("sign commitment: %w", err)
	}
	return sig, nil
}

// VerifyCommitmentSignature checks sig over commitment by the identity whose
// public key (libp2p protobuf encoding) is identityPub.
func VerifyCommitmentSignature(identityPub []byte, commitment [32]byte, sig []byte) error {
	pub, err := crypto.UnmarshalPublicKey(identityPub)
	if err != nil {
		return fmt.Errorf("decode identity public key: %w", err)
	}
	ok, err := pub.Verify(commitmentSigningMessage(commitment), sig)
	if err != nil || !ok {
		return fmt.Errorf("verify commitment signature: %w", ErrBadSignature)
	}
	return nil
}

const commitmentSigningTag = "agentnet/result-signature/v1"

func commitmentSigningMessage(c [32]byte) []byte {
	return append([]byte(commitmentSigningTag), c[:]...)
}

// PeerIDFromPublicKey returns the peer id (string form) of an identity
// public key in libp2p's protobuf encoding.
func PeerIDFromPublicKey(identityPub []byte) (string, error) {
	pub, err := crypto.UnmarshalPublicKey(identityPub)
	if err != nil {
		return "", fmt.Errorf("decode identity public key: %w", err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("derive peer id: %w", err)
	}
	return id.String(), nil
}
