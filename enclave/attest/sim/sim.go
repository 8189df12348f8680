// Package sim is a software TEE for development and testnets. It signs a
// quote-like structure with an Ed25519 key it holds, so the whole binding
// and verification path runs for real; it proves nothing about hardware
// isolation, and a default attest.Policy refuses it.
//
// Quote layout (all integers big-endian):
//
//	magic       8   "AGNTSIM1"
//	measurement 48  what the simulated TEE claims to run
//	report_data 64  the caller's binding
//	issued_at   8   Unix nanoseconds
//	debug       1   0 or 1
//	key         32  Ed25519 public key of the signer
//	signature   64  Ed25519 over "agentnet/sim-quote/v1" || all of the above
package sim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
)

const (
	magic         = "AGNTSIM1"
	signingDomain = "agentnet/sim-quote/v1"
	// MeasurementSize is the size of a simulated measurement, as TDX's MRTD.
	MeasurementSize = 48
	bodySize        = len(magic) + MeasurementSize + 64 + 8 + 1 + ed25519.PublicKeySize
	// QuoteSize is the exact size of a simulated quote.
	QuoteSize = bodySize + ed25519.SignatureSize
)

// Attester is the simulated TEE's quoting side.
type Attester struct {
	key         ed25519.PrivateKey
	measurement [MeasurementSize]byte
	debug       bool
	now         func() time.Time
}

// Option configures an Attester.
type Option func(*Attester)

// WithDebug marks quotes as coming from a TEE in debug mode, for tests of
// the debug rule.
func WithDebug() Option { return func(a *Attester) { a.debug = true } }

// WithClock sets the clock that stamps quotes.
func WithClock(now func() time.Time) Option { return func(a *Attester) { a.now = now } }

// NewAttester returns a simulated TEE that signs with key and claims to run
// measurement.
func NewAttester(key ed25519.PrivateKey, measurement [MeasurementSize]byte, opts ...Option) *Attester {
	a := &Attester{key: key, measurement: measurement, now: time.Now}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Platform returns attest.PlatformSim.
func (a *Attester) Platform() attest.Platform { return attest.PlatformSim }

// Attest returns a signed simulated quote over reportData.
func (a *Attester) Attest(_ context.Context, reportData attest.ReportData) (attest.Evidence, error) {
	q := make([]byte, 0, QuoteSize)
	q = append(q, magic...)
	q = append(q, a.measurement[:]...)
	q = append(q, reportData[:]...)
	q = binary.BigEndian.AppendUint64(q, uint64(a.now().UnixNano()))
	if a.debug {
		q = append(q, 1)
	} else {
		q = append(q, 0)
	}
	q = append(q, a.key.Public().(ed25519.PublicKey)...)
	q = append(q, ed25519.Sign(a.key, signedMessage(q))...)
	return attest.Evidence{Platform: attest.PlatformSim, Quote: q}, nil
}

// Verifier checks simulated quotes: layout, signature, report data. Which
// signing keys and measurements are trusted is the policy's [attest.SimPolicy].
type Verifier struct{}

// Verify parses and checks a simulated quote and returns its claims.
func (Verifier) Verify(_ context.Context, ev attest.Evidence, want attest.ReportData, _ *attest.Policy) (*attest.Claims, error) {
	q := ev.Quote
	if ev.Platform != attest.PlatformSim {
		return nil, fmt.Errorf("verify sim quote: platform %q: %w", ev.Platform, attest.ErrMalformedQuote)
	}
	if len(q) != QuoteSize || !bytes.HasPrefix(q, []byte(magic)) {
		return nil, fmt.Errorf("verify sim quote: %d bytes, want %d with magic %q: %w", len(q), QuoteSize, magic, attest.ErrMalformedQuote)
	}
	body, sig := q[:bodySize], q[bodySize:]
	off := len(magic)
	measurement := q[off : off+MeasurementSize]
	off += MeasurementSize
	var rd attest.ReportData
	copy(rd[:], q[off:off+64])
	off += 64
	issued := int64(binary.BigEndian.Uint64(q[off:]))
	off += 8
	debug := q[off]
	off++
	key := ed25519.PublicKey(q[off : off+ed25519.PublicKeySize])
	if debug > 1 {
		return nil, fmt.Errorf("verify sim quote: debug byte %d: %w", debug, attest.ErrMalformedQuote)
	}
	if !ed25519.Verify(key, signedMessage(body), sig) {
		return nil, fmt.Errorf("verify sim quote: %w", attest.ErrBadSignature)
	}
	if rd != want {
		return nil, fmt.Errorf("verify sim quote: %w", attest.ErrReportDataMismatch)
	}
	return &attest.Claims{
		Platform:   attest.PlatformSim,
		ReportData: rd,
		Measurements: map[string]attest.HexBytes{
			"measurement": bytes.Clone(measurement),
			"key":         bytes.Clone(key),
		},
		Debug:    debug == 1,
		IssuedAt: time.Unix(0, issued).UTC(),
		Notes:    []string{"simulated TEE: no hardware isolation"},
	}, nil
}

func signedMessage(body []byte) []byte {
	m := make([]byte, 0, len(signingDomain)+len(body))
	return append(append(m, signingDomain...), body...)
}
