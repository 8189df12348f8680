// Package enclave is the trust boundary of a node: everything that touches
// a client's secrets happens here. It holds the identity key, opens attested
// sessions (DESIGN.md 2.1), decrypts sealed requests, runs them in the
// WebAssembly executor, and returns results sealed to the client with a
// signed, salted commitment (DESIGN.md 2.2).
//
// Execution is two steps so that payment fits between them without
// reshaping the path: [Enclave.OpenRequest] decrypts and validates a request
// (and compiles its module), the caller settles whatever terms apply, then
// [Enclave.Run] executes it exactly once and seals the result.
package enclave

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/script"
)

// AgentResolver finds the module of an agent deployed on the node, for
// requests that name an agent instead of carrying a module.
type AgentResolver interface {
	ResolveAgent(ctx context.Context, name string) (*wasm.Module, error)
}

// Config configures an Enclave. Identity, Attester and Executor are
// required; zero values of the rest take the defaults their docs state.
type Config struct {
	Identity *Identity
	Attester attest.Attester
	Executor *wasm.Executor
	// Agents resolves agent names; nil means requests must carry a module.
	Agents AgentResolver
	// SessionTTL is a session's lifetime. Default 1 h.
	SessionTTL time.Duration
	// MaxSessions bounds the session table; the least recently used
	// session is dropped when it is full. Default 1024.
	MaxSessions int
	// MaxRequestsPerSession bounds the replay set of a session. Default
	// 100,000.
	MaxRequestsPerSession int
	// AttestResults attaches fresh evidence to every result, not only to
	// those whose request asks for it.
	AttestResults bool
	// ScriptLimits bound a script request; zero fields take the script
	// package's defaults (1e6 steps, 32 MiB, 2 s).
	ScriptLimits script.Limits
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

func (c *Config) withDefaults() error {
	switch {
	case c.Identity == nil:
		return errors.New("enclave config: no identity key")
	case c.Attester == nil:
		return errors.New("enclave config: no attester")
	case c.Executor == nil:
		return errors.New("enclave config: no executor")
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = time.Hour
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 1024
	}
	if c.MaxRequestsPerSession <= 0 {
		c.MaxRequestsPerSession = 100_000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Enclave opens sessions and runs sealed requests. It is safe for
// concurrent use.
type Enclave struct {
	cfg      Config
	sessions *sessionTable
}

// New returns an enclave for cfg.
func New(cfg Config) (*Enclave, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	st, err := newSessionTable(cfg.MaxSessions, cfg.MaxRequestsPerSession, cfg.SessionTTL, cfg.Now)
	if err != nil {
		return nil, err
	}
	return &Enclave{cfg: cfg, sessions: st}, nil
}

// Identity returns the node's identity key.
func (e *Enclave) Identity() *Identity { return e.cfg.Identity }

// Platform returns the TEE platform this enclave attests as.
func (e *Enclave) Platform() attest.Platform { return e.cfg.Attester.Platform() }

// Attester returns the enclave's attester, for evidence other packages bind
// to the identity key (agent cards).
func (e *Enclave) Attester() attest.Attester { return e.cfg.Attester }

// Sessions returns the number of sessions held.
func (e *Enclave) Sessions() int { return e.sessions.len() }

// SessionParams is a client's request for a session.
type SessionParams struct {
	Suite seal.Suite
	// ClientPub is the client's HPKE public key of Suite: results are
	// sealed to it.
	ClientPub []byte
	// Nonce is the client's fresh challenge, bound into the evidence.
	// Required (32 bytes) when Attest is set.
	Nonce []byte
	// Attest asks for evidence. Without it the session is encrypted but
	// the client has no proof of what it talks to.
	Attest bool
}

// NonceSize is the size of a session nonce.
const NonceSize = 32

// SessionInfo is what a client learns when a session opens.
type SessionInfo struct {
	ID          ID
	Suite       seal.Suite
	SessionPub  []byte
	IdentityPub []byte
	PeerID      string
	Platform    attest.Platform
	// Evidence binds SessionReportData(IdentityPub, SessionPub, ClientPub,
	// Nonce); nil unless the session was opened with Attest.
	Evidence  *attest.Evidence
	ExpiresAt time.Time
}

// CreateSession opens a session for a client: a fresh HPKE key pair born
// here, and, when asked, evidence binding it to the identity key, the
// client's key and nonce.
func (e *Enclave) CreateSession(ctx context.Context, p SessionParams) (*SessionInfo, error) {
	suite, err := seal.ParseSuite(string(p.Suite))
	if err != nil {
		return nil, fmt.Errorf("create session: %w: %w", ErrBadRequest, err)
	}
	client, err := seal.ParsePublicKey(suite, p.ClientPub)
	if err != nil {
		return nil, fmt.Errorf("create session: client key: %w: %w", ErrBadRequest, err)
	}
	if p.Attest && len(p.Nonce) != NonceSize {
		return nil, fmt.Errorf("create session: nonce is %d bytes, want %d: %w", len(p.Nonce), NonceSize, ErrBadRequest)
	}
	if len(p.Nonce) > 64 {
		return nil, fmt.Errorf("create session: nonce is %d bytes, want at most 64: %w", len(p.Nonce), ErrBadRequest)
	}
	key, err := seal.GenerateKey(suite)
	if err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	info := &SessionInfo{
		Suite:       suite,
		SessionPub:  key.PublicKey().Bytes(),
		IdentityPub: e.cfg.Identity.PublicKey(),
		PeerID:      e.cfg.Identity.PeerID().String(),
		Platform:    e.cfg.Attester.Platform(),
	}
	if p.Attest {
		rd := attest.SessionReportData(info.IdentityPub, info.SessionPub, client.Bytes(), p.Nonce)
		ev, err := e.cfg.Attester.Attest(ctx, rd)
		if err != nil {
			return nil, fmt.Errorf("create session: attest: %w", err)
		}
		info.Evidence = &ev
	}
	s, err := e.sessions.create(key, client)
	if err != nil {
		return nil, err
	}
	info.ID, info.ExpiresAt = s.id, s.expires
	return info, nil
}
