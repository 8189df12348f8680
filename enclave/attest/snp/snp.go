// Package snp produces and verifies AMD SEV-SNP evidence with
// github.com/google/go-sev-guest.
//
// Evidence is the raw attestation report (1184 bytes) followed by the
// host's certificate table (ARK, ASK and the VCEK or VLEK that signed the
// report), as configfs-tsm's outblob and auxblob or the /dev/sev-guest
// extended report return them.
//
// Verification always runs both of go-sev-guest's steps: verify (the
// report's signature and the VCEK/VLEK chain up to AMD's roots) and
// validate (report data, guest policy, VMPL, TCB bindings). It is offline
// by default: a report without a certificate table needs its VCEK or VLEK
// supplied by the caller, or fetching from AMD's Key Distribution Service
// switched on, with a short timeout and a directory cache.
package snp

import (
	"context"
	"fmt"
	"log/slog"

	sevclient "github.com/google/go-sev-guest/client"

	"github.com/agentnet/agentnode/enclave/attest"
)

// Attester produces SEV-SNP reports through a go-sev-guest QuoteProvider,
// the seam between production (configfs-tsm or /dev/sev-guest) and tests
// (package attesttest).
type Attester struct {
	qp   sevclient.QuoteProvider
	vmpl *uint
	log  *slog.Logger
}

// Option configures an Attester.
type Option func(*Attester)

// WithLogger sets the logger; nil discards.
func WithLogger(l *slog.Logger) Option { return func(a *Attester) { a.log = l } }

// WithVMPL requests reports at VM privilege level vmpl, for guests under an
// SVSM whose kernel runs above VMPL0. The provider must implement
// go-sev-guest's LeveledQuoteProvider.
func WithVMPL(vmpl uint) Option { return func(a *Attester) { a.vmpl = &vmpl } }

// NewAttester returns an Attester over qp.
func NewAttester(qp sevclient.QuoteProvider, opts ...Option) *Attester {
	a := &Attester{qp: qp}
	for _, o := range opts {
		o(a)
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a
}

// OpenAttester returns an Attester over the machine's SEV-SNP guest
// interface: configfs-tsm (provider sev_guest) first, then /dev/sev-guest.
// It fails with attest.ErrNoTEE when neither is present.
func OpenAttester(opts ...Option) (*Attester, error) {
	qp, err := sevclient.GetQuoteProvider()
	if err != nil {
		return nil, fmt.Errorf("open sev-snp guest: %w: %w", attest.ErrNoTEE, err)
	}
	return NewAttester(qp, opts...), nil
}

// Platform returns attest.PlatformSNP.
func (a *Attester) Platform() attest.Platform { return attest.PlatformSNP }

// Attest returns a fresh report with its certificate table over
// reportData. A report that does not parse is an error, never evidence.
func (a *Attester) Attest(ctx context.Context, reportData attest.ReportData) (attest.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return attest.Evidence{}, fmt.Errorf("get sev-snp report: %w", err)
	}
	if !a.qp.IsSupported() {
		return attest.Evidence{}, fmt.Errorf("get sev-snp report: %w", attest.ErrNoTEE)
	}
	var raw []byte
	var err error
	if a.vmpl != nil {
		lq, ok := a.qp.(sevclient.LeveledQuoteProvider)
		if !ok {
			return attest.Evidence{}, fmt.Errorf("get sev-snp report at vmpl %d: provider %T cannot choose the level", *a.vmpl, a.qp)
		}
		raw, err = lq.GetRawQuoteAtLevel(reportData, *a.vmpl)
	} else {
		raw, err = a.qp.GetRawQuote(reportData)
	}
	if err != nil {
		return attest.Evidence{}, fmt.Errorf("get sev-snp report: %w", err)
	}
	if _, err := parseAttestation(raw); err != nil {
		return attest.Evidence{}, fmt.Errorf("get sev-snp report: guest interface returned %d bytes: %w", len(raw), err)
	}
	a.log.Debug("sev-snp report", "bytes", len(raw))
	return attest.Evidence{Platform: attest.PlatformSNP, Quote: raw}, nil
}
