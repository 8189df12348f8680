package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/node/api"
)

// Session is a verified session with a node: the evidence held against the
// client's policy and was bound to this session's keys and nonce.
type Session struct {
	ID          enclave.ID
	Suite       seal.Suite
	IdentityPub []byte
	PeerID      string
	Platform    attest.Platform
	// Claims are what the node's evidence proved.
	Claims    *attest.Claims
	ExpiresAt time.Time

	// Evidence and the values its binding covers, kept so a receipt can be
	// re-verified offline.
	Evidence   attest.Evidence
	Nonce      []byte
	SessionPub []byte

	key        *seal.PrivateKey // the client's: results are sealed to it
	sessionPub *seal.PublicKey  // the node's: requests are sealed to it
}

// ClientPub returns the client's public key of the session.
func (s *Session) ClientPub() []byte { return s.key.PublicKey().Bytes() }

// OpenSession opens an attested session and verifies it: the evidence must
// satisfy the client's policy and carry the binding of DESIGN.md 2.1 over
// the node's identity key, the new session key, this client's key and a
// fresh nonce. A session that does not verify is an error, never returned.
func (c *Client) OpenSession(ctx context.Context) (*Session, error) {
	key, err := seal.GenerateKey(c.cfg.Suite)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, enclave.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("session nonce: %w", err)
	}
	resp, err := c.tr.CreateKeypair(ctx, &api.CreateKeypairRequest{
		Pubkey: hex.EncodeToString(key.PublicKey().Bytes()),
		Nonce:  hex.EncodeToString(nonce),
		Suite:  string(key.Suite()),
	})
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	return c.verifySession(ctx, key, nonce, resp)
}

func (c *Client) verifySession(ctx context.Context, key *seal.PrivateKey, nonce []byte, resp *api.CreateKeypairResponse) (*Session, error) {
	id, err := enclave.ParseID(resp.SessionID)
	if err != nil {
		return nil, fmt.Errorf("open session: session_id: %w", err)
	}
	if resp.Suite != string(key.Suite()) {
		return nil, fmt.Errorf("open session: node chose suite %q, asked for %q", resp.Suite, key.Suite())
	}
	fields := map[string][]byte{}
	for name, v := range map[string]string{"session_pubkey": resp.SessionPubkey, "identity_pubkey": resp.IdentityPubkey, "quote": resp.Quote} {
		b, err := hex.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("open session: %s is not hex", name)
		}
		fields[name] = b
	}
	sessionPub, err := seal.ParsePublicKey(key.Suite(), fields["session_pubkey"])
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	ev := attest.Evidence{Platform: attest.Platform(resp.Platform), Quote: fields["quote"]}
	want := attest.SessionReportData(fields["identity_pubkey"], sessionPub.Bytes(), key.PublicKey().Bytes(), nonce)
	claims, err := c.cfg.Verifiers.Verify(ctx, ev, want, c.cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("verify node evidence: %w", err)
	}
	if err := checkPeerID(fields["identity_pubkey"], resp.PeerID); err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	if c.cfg.PeerID != "" && resp.PeerID != c.cfg.PeerID {
		return nil, fmt.Errorf("open session: answered by peer %s, want %s: %w", resp.PeerID, c.cfg.PeerID, ErrWrongPeer)
	}
	return &Session{
		ID:          id,
		Suite:       key.Suite(),
		IdentityPub: fields["identity_pubkey"],
		PeerID:      resp.PeerID,
		Platform:    ev.Platform,
		Claims:      claims,
		ExpiresAt:   resp.ExpiresAt,
		Evidence:    ev,
		Nonce:       nonce,
		SessionPub:  sessionPub.Bytes(),
		key:         key,
		sessionPub:  sessionPub,
	}, nil
}

// currentSession returns the cached session, opening a new one when there
// is none or it expires within a minute.
func (c *Client) currentSession(ctx context.Context) (*Session, error) {
	c.mu.Lock()
	s := c.session
	c.mu.Unlock()
	if s != nil && time.Until(s.ExpiresAt) > time.Minute {
		return s, nil
	}
	s, err := c.OpenSession(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.session = s
	c.mu.Unlock()
	return s, nil
}

// dropSession forgets s if it is still the cached session, so the next
// call opens a fresh one (after the node lost or expired it).
func (c *Client) dropSession(s *Session) {
	c.mu.Lock()
	if c.session == s {
		c.session = nil
	}
	c.mu.Unlock()
}

func checkPeerID(identityPub []byte, peerID string) error {
	id, err := enclave.PeerIDFromPublicKey(identityPub)
	if err != nil {
		return err
	}
	if id != peerID {
		return fmt.Errorf("peer id %s does not belong to the identity key (%s)", peerID, id)
	}
	return nil
}
