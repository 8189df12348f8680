package detect

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-sev-guest/verify/trust"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/enclave/attest/snp"
	"github.com/agentnet/agentnode/enclave/attest/tdx"
)

// Notes VerifyRaw adds to the claims.
const (
	NoteReportDataUnchecked = "report_data: not checked"
	NoteUnpinned            = "measurement: unpinned"
)

// VerifyInput is one offline verification, as `agentnode attest verify`
// and `agentnode receipt verify` run it.
type VerifyInput struct {
	// Platform of the evidence; empty means guess from the bytes.
	Platform attest.Platform
	// Quote is the raw evidence.
	Quote []byte
	// ReportData is the expected binding; nil skips the check and notes
	// "report_data: not checked".
	ReportData *attest.ReportData
	// Policy to apply; nil means attest.DefaultPolicy.
	Policy *attest.Policy
	// At is the verification time; zero means now.
	At time.Time
	// Roots (PEM) replaces the vendor roots: for TDX the PCK root CA(s),
	// for SNP an ASK+ARK bundle as AMD KDS serves it (cert_chain).
	Roots []byte
	// VCEK is the SNP endorsement certificate (DER or PEM) for reports
	// without a certificate table.
	VCEK []byte
	// TDXCollateralDir, if set, is a tdx.CollateralCache directory.
	TDXCollateralDir string
	// FetchSNPCerts allows fetching a missing VCEK from AMD KDS.
	FetchSNPCerts bool
}

// VerifyRaw verifies raw evidence of any platform against a policy at a
// given time, and returns its claims or the first reason it does not hold.
// Claims note what was not checked, including "measurement: unpinned" when
// the policy pins no measurement of the platform.
func VerifyRaw(ctx context.Context, in VerifyInput) (*attest.Claims, error) {
	pl := in.Platform
	if pl == "" {
		var err error
		if pl, err = GuessPlatform(in.Quote); err != nil {
			return nil, err
		}
	}
	p := in.Policy
	if p == nil {
		p = attest.DefaultPolicy()
	}
	at := in.At
	if at.IsZero() {
		at = time.Now()
	}
	clock := func() time.Time { return at }
	pc := *p
	pc.Now = clock

	var v attest.Verifier
	var own func([]byte) (*attest.Claims, error)
	switch pl {
	case attest.PlatformTDX:
		cfg := tdx.Config{Now: clock}
		if len(in.Roots) > 0 {
			roots, err := tdx.ParseRoots(in.Roots)
			if err != nil {
				return nil, fmt.Errorf("verify tdx evidence: %w", err)
			}
			cfg.Roots = roots
		}
		if in.TDXCollateralDir != "" {
			cfg.Collateral = tdx.NewCollateralCache(in.TDXCollateralDir)
		}
		v, own = tdx.NewVerifier(cfg), tdx.ParseClaims
	case attest.PlatformSNP:
		cfg := snp.Config{Now: clock, Fetch: in.FetchSNPCerts}
		if len(in.Roots) > 0 {
			roots, err := ParseAMDRoots(in.Roots)
			if err != nil {
				return nil, fmt.Errorf("verify sev-snp evidence: %w", err)
			}
			cfg.Roots = roots
		}
		sv, err := snp.NewVerifier(cfg)
		if err != nil {
			return nil, err
		}
		v, own = withCert{sv, in.VCEK}, snp.ParseClaims
	case attest.PlatformSim:
		v, own = sim.Verifier{}, simReportData
	default:
		return nil, fmt.Errorf("verify evidence: platform %q: %w", pl, attest.ErrUnknownPlatform)
	}

	var want attest.ReportData
	checked := in.ReportData != nil
	if checked {
		want = *in.ReportData
	} else {
		c, err := own(in.Quote)
		if err != nil {
			return nil, err
		}
		want = c.ReportData
	}
	c, err := attest.Verifiers{pl: v}.Verify(ctx, attest.Evidence{Platform: pl, Quote: in.Quote}, want, &pc)
	if err != nil {
		return nil, err
	}
	if !checked {
		c.Notes = append(c.Notes, NoteReportDataUnchecked)
	}
	if !p.Pinned(pl) {
		c.Notes = append(c.Notes, NoteUnpinned)
	}
	return c, nil
}

// withCert adapts snp.Verifier.VerifyWithCert to attest.Verifier.
type withCert struct {
	v    *snp.Verifier
	cert []byte
}

func (w withCert) Verify(ctx context.Context, ev attest.Evidence, want attest.ReportData, p *attest.Policy) (*attest.Claims, error) {
	return w.v.VerifyWithCert(ctx, ev, want, p, w.cert)
}

// simReportData reads the report data of a simulated quote (layout in
// package sim) so that VerifyRaw can run without an expected binding.
func simReportData(q []byte) (*attest.Claims, error) {
	const off = 8 + sim.MeasurementSize
	if len(q) != sim.QuoteSize {
		return nil, fmt.Errorf("parse sim quote: %d bytes, want %d: %w", len(q), sim.QuoteSize, attest.ErrMalformedQuote)
	}
	c := &attest.Claims{Platform: attest.PlatformSim}
	copy(c.ReportData[:], q[off:off+64])
	return c, nil
}

// GuessPlatform tells TDX quotes, SEV-SNP reports and simulated quotes
// apart by their headers.
func GuessPlatform(q []byte) (attest.Platform, error) {
	switch {
	case len(q) == 0:
		return "", fmt.Errorf("guess platform: %w", attest.ErrEmptyQuote)
	case bytes.HasPrefix(q, []byte("AGNTSIM1")):
		return attest.PlatformSim, nil
	case len(q) >= 8 && binary.LittleEndian.Uint16(q) == 4 && binary.LittleEndian.Uint32(q[4:]) == 0x81:
		return attest.PlatformTDX, nil
	case len(q) >= snp.ReportSize && binary.LittleEndian.Uint32(q) >= 2 && binary.LittleEndian.Uint32(q) <= 5 &&
		binary.LittleEndian.Uint32(q[0x34:]) == 1:
		return attest.PlatformSNP, nil
	}
	return "", fmt.Errorf("guess platform: not a TDX quote, SEV-SNP report or simulated quote (give the platform): %w", attest.ErrMalformedQuote)
}

// ParseAMDRoots reads an ASK (or ASVK) and ARK bundle in AMD KDS's PEM
// cert_chain format into verifier roots, keyed by the product line named
// in the ARK's common name ("ARK-Milan").
func ParseAMDRoots(pemBytes []byte) (map[string][]*trust.AMDRootCerts, error) {
	pc := &trust.ProductCerts{}
	if err := pc.FromKDSCertBytes(pemBytes); err != nil {
		return nil, fmt.Errorf("parse AMD roots: %w", err)
	}
	if pc.Ark == nil {
		return nil, fmt.Errorf("parse AMD roots: no ARK certificate")
	}
	line, ok := strings.CutPrefix(pc.Ark.Subject.CommonName, "ARK-")
	if !ok || line == "" {
		return nil, fmt.Errorf("parse AMD roots: ARK common name %q does not name a product line", pc.Ark.Subject.CommonName)
	}
	return map[string][]*trust.AMDRootCerts{line: {{ProductLine: line, Product: line, ProductCerts: pc}}}, nil
}

// AMDRootsPEM renders roots as a KDS cert_chain bundle (ASK, ARK), the
// inverse of ParseAMDRoots, for tests and tools.
func AMDRootsPEM(ask, ark *x509.Certificate) []byte {
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: ask.Raw})
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: ark.Raw})
	return b.Bytes()
}

// VerifierConfig configures the verifiers a node or client uses for every
// platform.
type VerifierConfig struct {
	// TDXRoots and SNPRoots (PEM) replace the vendor roots; empty keeps
	// the Intel SGX Root CA and AMD's roots.
	TDXRoots, SNPRoots []byte
	// TDXCollateralDir, if set, is a tdx.CollateralCache directory; TDX
	// verification then checks TCB status and revocation.
	TDXCollateralDir string
	// FetchSNPCerts allows fetching missing VCEKs from AMD KDS, cached in
	// SNPCertCacheDir if set.
	FetchSNPCerts   bool
	SNPCertCacheDir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifiers returns a verifier for each platform: TDX, SEV-SNP and the
// simulated TEE (which a policy still refuses unless it accepts sim).
func Verifiers(cfg VerifierConfig) (attest.Verifiers, error) {
	tc := tdx.Config{Now: cfg.Now}
	if len(cfg.TDXRoots) > 0 {
		roots, err := tdx.ParseRoots(cfg.TDXRoots)
		if err != nil {
			return nil, fmt.Errorf("tdx roots: %w", err)
		}
		tc.Roots = roots
	}
	if cfg.TDXCollateralDir != "" {
		tc.Collateral = tdx.NewCollateralCache(cfg.TDXCollateralDir)
	}
	sc := snp.Config{Now: cfg.Now, Fetch: cfg.FetchSNPCerts, CacheDir: cfg.SNPCertCacheDir}
	if len(cfg.SNPRoots) > 0 {
		roots, err := ParseAMDRoots(cfg.SNPRoots)
		if err != nil {
			return nil, fmt.Errorf("snp roots: %w", err)
		}
		sc.Roots = roots
	}
	sv, err := snp.NewVerifier(sc)
	if err != nil {
		return nil, err
	}
	return attest.Verifiers{
		attest.PlatformTDX: tdx.NewVerifier(tc),
		attest.PlatformSNP: sv,
		attest.PlatformSim: sim.Verifier{},
	}, nil
}
