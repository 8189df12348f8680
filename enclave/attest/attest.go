// Package attest defines how a node proves what it runs and where: the
// [Attester] that produces evidence inside a TEE, the [Verifier] that checks
// it, the report-data bindings that tie evidence to keys and results, and the
// [Policy] a client applies to the claims.
//
// The package holds no platform code. Intel TDX, AMD SEV-SNP and the
// simulated TEE live in the sub-packages tdx, snp and sim and meet here
// through the interfaces; a [Verifiers] set routes evidence to the right one.
package attest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Platform names a kind of trusted execution environment.
type Platform string

// The platforms agentnode knows.
const (
	// PlatformSim is the software TEE of package sim. It proves the binding
	// path works, never that code runs in hardware.
	PlatformSim Platform = "sim"
	// PlatformTDX is an Intel TDX trust domain.
	PlatformTDX Platform = "tdx"
	// PlatformSNP is an AMD SEV-SNP guest.
	PlatformSNP Platform = "snp"
)

// ParsePlatform returns the platform named s.
func ParsePlatform(s string) (Platform, error) {
	switch p := Platform(s); p {
	case PlatformSim, PlatformTDX, PlatformSNP:
		return p, nil
	}
	return "", fmt.Errorf("parse platform %q: %w", s, ErrUnknownPlatform)
}

// MaxQuoteSize caps evidence from any platform. A TDX quote is about 5 KiB,
// an SNP report with its certificate table under 10 KiB.
const MaxQuoteSize = 64 << 10

// ReportData is the 64 bytes a TEE signs into its quote on the caller's
// behalf. agentnode always fills it with one of the bindings of binding.go.
type ReportData [64]byte

// String returns the report data as lowercase hex.
func (r ReportData) String() string { return hex.EncodeToString(r[:]) }

// Evidence is a quote together with the platform that produced it.
type Evidence struct {
	Platform Platform
	Quote    []byte
}

type evidenceJSON struct {
	Platform Platform `json:"platform"`
	Quote    string   `json:"quote"`
}

// MarshalJSON encodes the quote as lowercase hex, the bridge's convention.
func (e Evidence) MarshalJSON() ([]byte, error) {
	return json.Marshal(evidenceJSON{Platform: e.Platform, Quote: hex.EncodeToString(e.Quote)})
}

// UnmarshalJSON decodes evidence written by MarshalJSON.
func (e *Evidence) UnmarshalJSON(b []byte) error {
	var v evidenceJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode evidence: %w", err)
	}
	if len(v.Quote) > 2*MaxQuoteSize {
		return fmt.Errorf("decode evidence: %w", ErrQuoteTooLarge)
	}
	q, err := hex.DecodeString(v.Quote)
	if err != nil {
		return fmt.Errorf("decode evidence quote: %w", err)
	}
	e.Platform, e.Quote = v.Platform, q
	return nil
}

// Attester produces evidence from inside a TEE.
type Attester interface {
	// Platform names the TEE this attester speaks for.
	Platform() Platform
	// Attest returns fresh evidence carrying reportData.
	Attest(ctx context.Context, reportData ReportData) (Evidence, error)
}

// Verifier checks evidence of one platform: that it is genuine (signatures,
// certificate chain, collateral where configured), that it carries the
// expected report data, and that it satisfies the platform-specific parts of
// the policy (minimum TCB, VMPL). It returns the claims the evidence makes.
// Policy rules common to all platforms are applied by [Verifiers.Verify].
type Verifier interface {
	Verify(ctx context.Context, ev Evidence, want ReportData, p *Policy) (*Claims, error)
}

// Claims are what verified evidence says about the TEE that produced it.
type Claims struct {
	Platform   Platform   `json:"platform"`
	ReportData ReportData `json:"-"`
	// Measurements maps a measurement register name (lowercase: "mrtd",
	// "rtmr0".."rtmr3", "mrconfigid" for TDX; "measurement", "host_data"
	// for SNP; "measurement", "key" for sim) to its value.
	Measurements map[string]HexBytes `json:"measurements"`
	// TCB describes the platform's trusted computing base version.
	TCB   string `json:"tcb,omitempty"`
	Debug bool   `json:"debug"`
	// IssuedAt is when the evidence was produced, if the platform says.
	IssuedAt time.Time `json:"issued_at,omitzero"`
	// ValidUntil is the earliest expiry of the certificates and collateral
	// the verdict rests on; zero when unknown. Caches never keep a verdict
	// past it.
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// Notes lists what was not checked, such as "collateral: not checked".
	Notes []string `json:"notes,omitempty"`
}

// HexBytes is a byte string that encodes to JSON and TOML as lowercase hex.
type HexBytes []byte

// String returns b as lowercase hex.
func (b HexBytes) String() string { return hex.EncodeToString(b) }

// MarshalText encodes b as lowercase hex.
func (b HexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(b)), nil }

// UnmarshalText decodes hex, with or without a 0x prefix.
func (b *HexBytes) UnmarshalText(t []byte) error {
	if len(t) >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		t = t[2:]
	}
	v, err := hex.DecodeString(string(t))
	if err != nil {
		return fmt.Errorf("decode hex: %w", err)
	}
	*b = v
	return nil
}

// Verifiers routes evidence to the verifier of its platform.
type Verifiers map[Platform]Verifier

// Verify checks ev against want and p: the platform must be allowed by p
// (checked before any parsing, so a refused platform costs nothing), the
// platform's verifier must accept the evidence, and the claims must satisfy
// p's measurement, debug and age rules.
func (vs Verifiers) Verify(ctx context.Context, ev Evidence, want ReportData, p *Policy) (*Claims, error) {
	if p == nil {
		p = DefaultPolicy()
	}
	if err := p.allowPlatform(ev.Platform); err != nil {
		return nil, err
	}
	if len(ev.Quote) == 0 {
		return nil, fmt.Errorf("verify %s evidence: %w", ev.Platform, ErrEmptyQuote)
	}
	if len(ev.Quote) > MaxQuoteSize {
		return nil, fmt.Errorf("verify %s evidence: %w", ev.Platform, ErrQuoteTooLarge)
	}
	v, ok := vs[ev.Platform]
	if !ok {
		return nil, fmt.Errorf("verify %s evidence: %w", ev.Platform, ErrNoVerifier)
	}
	claims, err := v.Verify(ctx, ev, want, p)
	if err != nil {
		return nil, err
	}
	if claims.ReportData != want {
		return nil, fmt.Errorf("verify %s evidence: %w", ev.Platform, ErrReportDataMismatch)
	}
	if err := p.Check(claims); err != nil {
		return nil, err
	}
	return claims, nil
}
