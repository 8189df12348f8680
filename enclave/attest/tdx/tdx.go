// Package tdx produces and verifies Intel TDX evidence with
// github.com/google/go-tdx-guest.
//
// Quotes come from the kernel's configfs-tsm report interface (Linux 6.7 or
// later with a host quote generation service); the deprecated TDX
// GET_QUOTE ioctl is never used. Every quote is checked to come from the
// "tdx_guest" provider, so an SEV-SNP guest with configfs-tsm is never taken
// for a TDX one.
//
// Verification is offline by default: the PCK certificate chain is checked
// against trusted roots (the Intel SGX Root CA unless configured otherwise),
// and TCB collateral and revocation lists are used only when a collateral
// source is configured, typically a [CollateralCache] directory. Claims say
// "collateral: not checked" when none was used.
package tdx

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
	"github.com/google/go-configfs-tsm/configfs/linuxtsm"
	"github.com/google/go-configfs-tsm/report"
	tdxclient "github.com/google/go-tdx-guest/client"

	"github.com/agentnet/agentnode/enclave/attest"
)

// Provider is the configfs-tsm provider name of a TDX guest.
const Provider = "tdx_guest"

// Attester produces TDX quotes through a go-tdx-guest QuoteProvider. The
// provider is the seam: production uses [ConfigFSProvider], tests a fake
// with a test-only PCK chain (package attesttest), and everything above it
// is the same code.
type Attester struct {
	qp  tdxclient.QuoteProvider
	log *slog.Logger
}

// Option configures an Attester.
type Option func(*Attester)

// WithLogger sets the logger; nil discards.
func WithLogger(l *slog.Logger) Option { return func(a *Attester) { a.log = l } }

// NewAttester returns an Attester that asks qp for quotes. It calls
// qp.GetRawQuote directly and never the library's GetRawQuote helper, which
// silently falls back to the ioctl when IsSupported fails.
func NewAttester(qp tdxclient.QuoteProvider, opts ...Option) *Attester {
	a := &Attester{qp: qp}
	for _, o := range opts {
		o(a)
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a
}

// Platform returns attest.PlatformTDX.
func (a *Attester) Platform() attest.Platform { return attest.PlatformTDX }

// Attest returns a fresh TDX quote carrying reportData. An empty or short
// quote (a misconfigured quote generation service answers with an empty
// outblob and no error) is an error, never evidence.
func (a *Attester) Attest(ctx context.Context, reportData attest.ReportData) (attest.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return attest.Evidence{}, fmt.Errorf("get tdx quote: %w", err)
	}
	if err := a.qp.IsSupported(); err != nil {
		return attest.Evidence{}, fmt.Errorf("get tdx quote: %w: %w", attest.ErrNoTEE, err)
	}
	raw, err := a.qp.GetRawQuote(reportData)
	if err != nil {
		return attest.Evidence{}, fmt.Errorf("get tdx quote: %w", err)
	}
	if _, err := parseQuote(raw); err != nil {
		return attest.Evidence{}, fmt.Errorf("get tdx quote: quote generation service returned %d bytes: %w", len(raw), err)
	}
	a.log.Debug("tdx quote", "bytes", len(raw))
	return attest.Evidence{Platform: attest.PlatformTDX, Quote: raw}, nil
}

// ConfigFSProvider is the production QuoteProvider: it writes the report
// data to a configfs-tsm report entry and reads the quote back, checking
// that the entry's provider is "tdx_guest" on every request.
type ConfigFSProvider struct {
	client configfsi.Client
}

// NewConfigFSProvider returns a provider over client; nil means the
// kernel's /sys/kernel/config/tsm. It fails with attest.ErrNoTEE when
// configfs-tsm is absent or its provider is not tdx_guest.
func NewConfigFSProvider(client configfsi.Client) (*ConfigFSProvider, error) {
	if client == nil {
		c, err := linuxtsm.MakeClient()
		if err != nil {
			return nil, fmt.Errorf("open configfs-tsm: %w: %w", attest.ErrNoTEE, err)
		}
		client = c
	}
	p := &ConfigFSProvider{client: client}
	if err := p.IsSupported(); err != nil {
		return nil, err
	}
	return p, nil
}

// IsSupported reports, as an error, whether configfs-tsm answers with the
// tdx_guest provider.
func (p *ConfigFSProvider) IsSupported() error {
	got, err := ProbeProvider(p.client)
	if err != nil {
		return err
	}
	if got != Provider {
		return fmt.Errorf("configfs-tsm provider is %q, not %q: %w", got, Provider, attest.ErrNoTEE)
	}
	return nil
}

// GetRawQuote returns the quote over reportData.
func (p *ConfigFSProvider) GetRawQuote(reportData [64]byte) ([]uint8, error) {
	resp, err := report.Get(p.client, &report.Request{InBlob: reportData[:]})
	if err != nil {
		return nil, fmt.Errorf("read configfs-tsm report: %w", err)
	}
	if got := strings.TrimSpace(resp.Provider); got != Provider {
		return nil, fmt.Errorf("configfs-tsm provider is %q, not %q: %w", got, Provider, attest.ErrNoTEE)
	}
	return resp.OutBlob, nil
}

// ProbeProvider creates a configfs-tsm report entry, reads which provider
// (tdx_guest, sev_guest, ...) backs it, and removes it. No quote is made.
func ProbeProvider(client configfsi.Client) (string, error) {
	r, err := report.CreateOpenReport(client)
	if err != nil {
		return "", fmt.Errorf("probe configfs-tsm: %w: %w", attest.ErrNoTEE, err)
	}
	b, rerr := r.ReadOption("provider")
	if derr := r.Destroy(); derr != nil && rerr == nil {
		rerr = derr
	}
	if rerr != nil {
		return "", fmt.Errorf("probe configfs-tsm provider: %w", rerr)
	}
	return strings.TrimSpace(string(b)), nil
}
