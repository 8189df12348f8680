package snp

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/validate"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/agentnet/agentnode/enclave/attest"
)

// Notes that claims carry.
const (
	NoteCustomRoots = "roots: not AMD's"
	NoteNoCRL       = "revocation: not checked"
)

// Config configures a Verifier. The zero Config verifies offline against
// AMD's roots, with the certificates the evidence carries.
type Config struct {
	// Roots maps a product line ("Milan", "Genoa", "Turin") to trusted
	// ARK/ASK/ASVK sets. Nil means AMD's published roots for VCEK and
	// VLEK; anything else is for tests and is marked in the notes.
	Roots map[string][]*trust.AMDRootCerts
	// Fetch allows fetching a missing VCEK (and, with CheckRevocations,
	// the product CRL) from AMD's Key Distribution Service. Off by default.
	Fetch bool
	// Getter is the source when fetching; nil means KDS over HTTPS with
	// FetchTimeout.
	Getter trust.HTTPSGetter
	// FetchTimeout bounds fetching within one verification; zero means
	// DefaultFetchTimeout.
	FetchTimeout time.Duration
	// CacheDir, if set, caches fetched VCEKs and product chains.
	CacheDir string
	// CheckRevocations checks the ASK and the VCEK against AMD's product
	// CRL, fetched through Getter (Fetch or a Getter is needed).
	CheckRevocations bool
	// Now is the verification clock; nil means time.Now.
	Now func() time.Time
	// Logger receives debug records; nil discards.
	Logger *slog.Logger
}

// Verifier checks SEV-SNP evidence. It is safe for concurrent use.
type Verifier struct {
	roots   map[string][]*trust.AMDRootCerts
	custom  bool
	fetch   bool
	crl     bool
	getter  trust.HTTPSGetter
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg Config) (*Verifier, error) {
	v := &Verifier{roots: cfg.Roots, fetch: cfg.Fetch, crl: cfg.CheckRevocations, now: cfg.Now, log: cfg.Logger, timeout: cfg.FetchTimeout}
	if v.roots == nil {
		r, err := AMDRoots()
		if err != nil {
			return nil, err
		}
		v.roots = r
	} else {
		v.custom = true
	}
	if v.timeout == 0 {
		v.timeout = DefaultFetchTimeout
	}
	next := cfg.Getter
	if next == nil && cfg.Fetch {
		next = &HTTPGetter{Client: &http.Client{Timeout: v.timeout}}
	}
	if next != nil || cfg.CacheDir != "" {
		v.getter = NewCertCache(cfg.CacheDir, next)
	}
	if v.crl && v.getter == nil {
		return nil, errors.New("new sev-snp verifier: revocation checks need Fetch or a Getter")
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	return v, nil
}

// AMDRoots returns AMD's published ARK, ASK and ASVK certificates for
// every product line go-sev-guest knows, for VCEK- and VLEK-signed reports.
func AMDRoots() (map[string][]*trust.AMDRootCerts, error) {
	bundles := []struct {
		line       string
		vcek, vlek []byte
	}{
		{"Milan", trust.AskArkMilanVcekBytes, trust.AskArkMilanVlekBytes},
		{"Genoa", trust.AskArkGenoaVcekBytes, trust.AskArkGenoaVlekBytes},
		{"Turin", trust.AskArkTurinVcekBytes, trust.AskArkTurinVlekBytes},
	}
	out := map[string][]*trust.AMDRootCerts{}
	for _, b := range bundles {
		pc, vl := &trust.ProductCerts{}, &trust.ProductCerts{}
		if err := pc.FromKDSCertBytes(b.vcek); err != nil {
			return nil, fmt.Errorf("load AMD %s VCEK roots: %w", b.line, err)
		}
		// go-sev-guest v0.15.0's Turin VLEK bundle has trailing bytes its own
		// parser rejects; such a line verifies VCEK-signed reports only.
		if err := vl.FromKDSCertBytes(b.vlek); err == nil {
			pc.Asvk = vl.Asvk
		}
		out[b.line] = []*trust.AMDRootCerts{{ProductLine: b.line, Product: b.line, ProductCerts: pc}}
	}
	return out, nil
}

// Verify checks ev against want and p's SNP rules (debug, VMPL, minimum
// TCB) and returns the claims. Measurement pins are applied by
// attest.Verifiers.Verify.
func (v *Verifier) Verify(ctx context.Context, ev attest.Evidence, want attest.ReportData, p *attest.Policy) (*attest.Claims, error) {
	return v.VerifyWithCert(ctx, ev, want, p, nil)
}

// VerifyWithCert is Verify for a report without a certificate table: cert
// (DER or PEM) is the VCEK or VLEK that signed it. A certificate the
// report carries takes precedence.
func (v *Verifier) VerifyWithCert(ctx context.Context, ev attest.Evidence, want attest.ReportData, p *attest.Policy, cert []byte) (*attest.Claims, error) {
	if p == nil {
		p = attest.DefaultPolicy()
	}
	if ev.Platform != attest.PlatformSNP {
		return nil, fmt.Errorf("verify sev-snp report: platform %q: %w", ev.Platform, attest.ErrMalformedQuote)
	}
	if vm := p.SNP.VMPL; vm != nil && (*vm < 0 || *vm > 3) {
		return nil, fmt.Errorf("verify sev-snp report: policy snp.vmpl %d is not 0-3: %w", *vm, attest.ErrInvalidPolicy)
	}
	att, err := parseAttestation(ev.Quote)
	if err != nil {
		return nil, err
	}
	report := att.GetReport()
	info, err := abi.ParseSignerInfo(report.GetSignerInfo())
	if err != nil {
		return nil, fmt.Errorf("verify sev-snp report: %w: %v", attest.ErrMalformedQuote, err)
	}
	if err := v.supplyCert(att, info.SigningKey, cert); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verify sev-snp report: %w", err)
	}
	opts := &verify.Options{Now: v.now(), TrustedRoots: v.roots, DisableCertFetching: !v.fetch, CheckRevocations: v.crl}
	if v.getter != nil {
		opts.Getter = v.getter
	}
	vctx := ctx
	if v.fetch || v.crl {
		var cancel context.CancelFunc
		vctx, cancel = context.WithTimeout(ctx, v.timeout)
		defer cancel()
	}
	if err := verify.SnpAttestationContext(vctx, att, opts); err != nil {
		return nil, fmt.Errorf("verify sev-snp report: %w", classifyVerify(err))
	}
	ek, err := endorsementCert(att, info.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("verify sev-snp report: %w: %v", attest.ErrBadSignature, err)
	}
	root := v.rootOf(att, ek, info.SigningKey)
	if v.crl && root != nil {
		if err := vcekNotRevoked(vctx, root, ek, opts); err != nil {
			return nil, fmt.Errorf("verify sev-snp report: %w", err)
		}
	}

	c := claimsOf(report)
	if c.Debug && !p.AllowDebug {
		return nil, fmt.Errorf("verify sev-snp report: guest policy allows debugging (policy bit 19), the host can read the guest's memory: %w", attest.ErrDebug)
	}
	if subtle.ConstantTimeCompare(c.ReportData[:], want[:]) != 1 {
		return nil, fmt.Errorf("verify sev-snp report: %w", attest.ErrReportDataMismatch)
	}
	if err := checkTCB(report, ek, info.SigningKey, p.SNP.MinTCB); err != nil {
		return nil, fmt.Errorf("validate sev-snp report: %w", err)
	}
	vopts := &validate.Options{
		GuestPolicy:               abi.SnpPolicy{SMT: true, Debug: p.AllowDebug},
		ReportData:                want[:],
		VMPL:                      p.SNP.VMPL,
		MinimumTCB:                kds.DecomposeTCBVersion(kds.TCBVersion(p.SNP.MinTCB)),
		PermitProvisionalFirmware: true,
	}
	if err := validate.SnpAttestation(att, vopts); err != nil {
		return nil, fmt.Errorf("validate sev-snp report: %w", classifyValidate(err))
	}
	c.ValidUntil = ek.NotAfter
	if root != nil && root.ProductCerts != nil {
		for _, rc := range []*x509.Certificate{root.ProductCerts.Ark, root.ProductCerts.Ask} {
			if rc != nil && rc.NotAfter.Before(c.ValidUntil) {
				c.ValidUntil = rc.NotAfter
			}
		}
	}
	if v.custom {
		c.Notes = append(c.Notes, NoteCustomRoots)
	}
	if !v.crl {
		c.Notes = append(c.Notes, NoteNoCRL)
	}
	v.log.Debug("sev-snp report verified", "tcb", c.TCB, "debug", c.Debug)
	return c, nil
}

// supplyCert puts a caller-supplied VCEK/VLEK into an attestation that
// lacks one, and explains what is missing otherwise.
func (v *Verifier) supplyCert(att *spb.Attestation, key abi.ReportSigner, cert []byte) error {
	if att.CertificateChain == nil {
		att.CertificateChain = &spb.CertificateChain{}
	}
	ch := att.CertificateChain
	has := (key == abi.VcekReportSigner && len(ch.GetVcekCert()) > 0) || (key == abi.VlekReportSigner && len(ch.GetVlekCert()) > 0)
	if has {
		return nil
	}
	if len(cert) > 0 {
		der := cert
		if b, _ := pem.Decode(cert); b != nil {
			der = b.Bytes
		}
		if _, err := x509.ParseCertificate(der); err != nil {
			return fmt.Errorf("verify sev-snp report: parse supplied %v certificate: %w", key, err)
		}
		switch key {
		case abi.VcekReportSigner:
			ch.VcekCert = der
		case abi.VlekReportSigner:
			ch.VlekCert = der
		}
		return nil
	}
	switch {
	case key == abi.VlekReportSigner:
		return fmt.Errorf("verify sev-snp report: %w: %v (VLEKs cannot be fetched; supply the certificate)", attest.ErrBadSignature, verify.ErrMissingVlek)
	case key == abi.VcekReportSigner && !v.fetch:
		return fmt.Errorf("verify sev-snp report: %w: the report carries no VCEK certificate; supply it (--vcek) or enable fetching from AMD KDS", attest.ErrBadSignature)
	case key != abi.VcekReportSigner:
		return fmt.Errorf("verify sev-snp report: %w: unsupported signing key %v", attest.ErrBadSignature, key)
	}
	return nil
}

func endorsementCert(att *spb.Attestation, key abi.ReportSigner) (*x509.Certificate, error) {
	der := att.GetCertificateChain().GetVcekCert()
	if key == abi.VlekReportSigner {
		der = att.GetCertificateChain().GetVlekCert()
	}
	return x509.ParseCertificate(der)
}

// rootOf returns the trusted root set whose intermediate signed ek.
func (v *Verifier) rootOf(att *spb.Attestation, ek *x509.Certificate, key abi.ReportSigner) *trust.AMDRootCerts {
	for _, rs := range v.roots {
		for _, r := range rs {
			if r == nil || r.ProductCerts == nil {
				continue
			}
			ica := r.ProductCerts.Ask
			if key == abi.VlekReportSigner {
				ica = r.ProductCerts.Asvk
			}
			// verify has checked the signatures; the issuer name finds the set.
			if ica != nil && bytes.Equal(ek.RawIssuer, ica.RawSubject) {
				return r
			}
		}
	}
	return nil
}

// vcekNotRevoked checks ek's serial against the product CRL. go-sev-guest
// checks only the ASK, since AMD supersedes VCEKs by TCB rather than
// revoking them; a listed VCEK is still refused here.
func vcekNotRevoked(ctx context.Context, root *trust.AMDRootCerts, ek *x509.Certificate, opts *verify.Options) error {
	crl, err := verify.GetCrlAndCheckRootContext(ctx, root, opts)
	if err != nil {
		return classifyVerify(err)
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(ek.SerialNumber) == 0 {
			return fmt.Errorf("%w: endorsement key certificate %x was revoked at %v", attest.ErrRevoked, ek.SerialNumber, e.RevocationTime)
		}
	}
	return nil
}

// checkTCB gives the TCB rules validate also enforces their own, clear
// errors: the VCEK must certify exactly the reported TCB, and the reported
// TCB must meet the policy minimum.
func checkTCB(r *spb.Report, ek *x509.Certificate, key abi.ReportSigner, minTCB uint64) error {
	exts, err := kds.CertificateExtensions(ek, key)
	if err != nil {
		return fmt.Errorf("%w: read %v certificate extensions: %v", attest.ErrBadSignature, key, err)
	}
	if uint64(exts.TCBVersion) != r.GetReportedTcb() {
		return fmt.Errorf("%w: %v certificate is for TCB %#016x but the report claims %#016x", attest.ErrBadSignature, key, uint64(exts.TCBVersion), r.GetReportedTcb())
	}
	minParts := kds.DecomposeTCBVersion(kds.TCBVersion(minTCB))
	if !kds.TCBPartsLE(minParts, kds.DecomposeTCBVersion(kds.TCBVersion(r.GetReportedTcb()))) {
		return fmt.Errorf("%w: reported TCB %#016x is below the policy minimum %#016x in at least one component", attest.ErrTCBOutOfDate, r.GetReportedTcb(), minTCB)
	}
	return nil
}

func classifyVerify(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "revoked"):
		return fmt.Errorf("%w: %v", attest.ErrRevoked, err)
	case strings.Contains(msg, "expired"), strings.Contains(msg, "not yet valid"):
		return fmt.Errorf("%w: %v", attest.ErrExpired, err)
	case strings.Contains(msg, "unknown authority"), strings.Contains(msg, "could not be verified by any trusted roots"):
		return fmt.Errorf("%w: endorsement key does not lead to a trusted AMD root: %v", attest.ErrBadSignature, err)
	}
	return fmt.Errorf("%w: %v", attest.ErrBadSignature, err)
}

func classifyValidate(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "REPORT_DATA"):
		return fmt.Errorf("%w: %v", attest.ErrReportDataMismatch, err)
	case strings.Contains(msg, "debug"):
		return fmt.Errorf("%w: %v", attest.ErrDebug, err)
	case strings.Contains(msg, "minimum TCB"), strings.Contains(msg, "is lower than"):
		return fmt.Errorf("%w: %v", attest.ErrTCBOutOfDate, err)
	}
	return fmt.Errorf("%w: %v", attest.ErrPolicyViolation, err)
}
