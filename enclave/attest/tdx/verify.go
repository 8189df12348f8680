package tdx

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/validate"
	"github.com/google/go-tdx-guest/verify"
	"github.com/google/go-tdx-guest/verify/trust"

	"github.com/agentnet/agentnode/enclave/attest"
)

// Notes that claims carry about what was not checked.
const (
	NoteNoCollateral = "collateral: not checked"
	NoteCustomRoots  = "roots: not the Intel SGX Root CA"
)

//go:embed intel_sgx_root_ca.pem
var intelRootPEM []byte

// IntelRootPEM returns the Intel SGX Root CA certificate (PEM), the trust
// anchor of every genuine TDX quote. It is the certificate go-tdx-guest
// embeds; passing it explicitly keeps the library from logging a warning
// to stdout on every verification.
func IntelRootPEM() []byte { return append([]byte(nil), intelRootPEM...) }

// ParseRoots reads PEM certificates into a pool, for Config.Roots.
func ParseRoots(pemBytes []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := pemBytes; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse root certificate %d: %w", n, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("parse roots: no PEM certificate found")
	}
	return pool, nil
}

// Config configures a Verifier. The zero Config verifies offline against
// the Intel SGX Root CA without collateral.
type Config struct {
	// Roots are the trusted roots of the PCK certificate chain. Nil means
	// the Intel SGX Root CA; anything else is for tests and private PKI and
	// is marked in the claims' notes.
	Roots *x509.CertPool
	// Collateral serves Intel PCS responses (TCB info, QE identity, PCK and
	// root CRLs) by URL, usually a [CollateralCache]. Nil checks
	// signatures and the PCK chain only and notes "collateral: not
	// checked". With collateral, the TCB status must be UpToDate and
	// revocation lists are checked.
	Collateral trust.HTTPSGetter
	// Now is the verification clock; nil means time.Now.
	Now func() time.Time
	// Logger receives debug records; nil discards.
	Logger *slog.Logger
}

// Verifier checks TDX quotes with go-tdx-guest's verify (signatures,
// chain, collateral) and validate (report data, minimum TCB), plus the
// debug bit, which validate does not look at. It is safe for concurrent
// use: library options are built fresh for every call.
type Verifier struct {
	roots      *x509.CertPool
	custom     bool
	collateral trust.HTTPSGetter
	now        func() time.Time
	log        *slog.Logger
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg Config) *Verifier {
	v := &Verifier{roots: cfg.Roots, collateral: cfg.Collateral, now: cfg.Now, log: cfg.Logger}
	if v.roots == nil {
		v.roots, _ = ParseRoots(intelRootPEM)
	} else {
		v.custom = true
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	return v
}

// Verify checks that ev is a genuine TDX quote carrying want and meeting
// p's TDX rules (debug, minimum TEE TCB SVN), and returns its claims.
// Measurement pins and the other platform-independent rules are applied by
// attest.Verifiers.Verify.
func (v *Verifier) Verify(ctx context.Context, ev attest.Evidence, want attest.ReportData, p *attest.Policy) (*attest.Claims, error) {
	if p == nil {
		p = attest.DefaultPolicy()
	}
	if ev.Platform != attest.PlatformTDX {
		return nil, fmt.Errorf("verify tdx quote: platform %q: %w", ev.Platform, attest.ErrMalformedQuote)
	}
	if len(p.TDX.MinTeeTCBSVN) != 0 && len(p.TDX.MinTeeTCBSVN) != 16 {
		return nil, fmt.Errorf("verify tdx quote: policy tdx.min_tee_tcb_svn has %d bytes, want 16: %w", len(p.TDX.MinTeeTCBSVN), attest.ErrInvalidPolicy)
	}
	q, err := parseQuote(ev.Quote)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verify tdx quote: %w", err)
	}
	now := v.now()
	opts := &verify.Options{Now: now, TrustedRoots: v.roots}
	if v.collateral != nil {
		opts.GetCollateral, opts.CheckRevocations, opts.Getter = true, true, v.collateral
	}
	if err := verify.TdxQuote(q, opts); err != nil {
		return nil, fmt.Errorf("verify tdx quote: %w", classifyVerify(err))
	}
	c := claimsOf(q)
	if c.Debug && !p.AllowDebug {
		return nil, fmt.Errorf("verify tdx quote: TD_ATTRIBUTES.DEBUG is set, the host can read the TD's memory: %w", attest.ErrDebug)
	}
	if subtle.ConstantTimeCompare(c.ReportData[:], want[:]) != 1 {
		return nil, fmt.Errorf("verify tdx quote: %w", attest.ErrReportDataMismatch)
	}
	vopts := &validate.Options{TdQuoteBodyOptions: validate.TdQuoteBodyOptions{
		ReportData:       want[:],
		MinimumTeeTcbSvn: p.TDX.MinTeeTCBSVN,
	}}
	if err := validate.TdxQuote(q, vopts); err != nil {
		return nil, fmt.Errorf("validate tdx quote: %w", classifyValidate(err))
	}
	c.ValidUntil = chainExpiry(q)
	if v.collateral == nil {
		c.Notes = append(c.Notes, NoteNoCollateral)
	} else {
		c.TCB += " status=UpToDate"
		if t := collateralExpiry(v.collateral, q); !t.IsZero() && (c.ValidUntil.IsZero() || t.Before(c.ValidUntil)) {
			c.ValidUntil = t
		}
	}
	if v.custom {
		c.Notes = append(c.Notes, NoteCustomRoots)
	}
	v.log.Debug("tdx quote verified", "tcb", c.TCB, "debug", c.Debug)
	return c, nil
}

// classifyVerify maps a go-tdx-guest verify error to the attest sentinel a
// caller can act on, keeping the library's detail. The library wraps most
// causes with %v, so the message is all there is to go on.
func classifyVerify(err error) error {
	msg := err.Error()
	var kind error
	switch {
	case strings.Contains(msg, "revoked"):
		kind = attest.ErrRevoked
	case strings.Contains(msg, "expired"), strings.Contains(msg, "not yet valid"):
		kind = attest.ErrExpired
	case strings.Contains(msg, "TCB Status is not"), strings.Contains(msg, "no matching TCB level"),
		errors.Is(err, verify.ErrTcbStatus):
		kind = attest.ErrTCBOutOfDate
	case strings.Contains(msg, "unknown authority"):
		return fmt.Errorf("%w: PCK chain does not lead to a trusted root: %v", attest.ErrBadSignature, err)
	default:
		kind = attest.ErrBadSignature
	}
	return fmt.Errorf("%w: %v", kind, err)
}

func classifyValidate(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "TEE TCB security-version"):
		return fmt.Errorf("%w: %v", attest.ErrTCBOutOfDate, err)
	case strings.Contains(msg, "REPORT_DATA"):
		return fmt.Errorf("%w: %v", attest.ErrReportDataMismatch, err)
	}
	return fmt.Errorf("%w: %v", attest.ErrPolicyViolation, err)
}

// chainExpiry returns the earliest NotAfter of the quote's PCK chain.
func chainExpiry(q *pb.QuoteV4) time.Time {
	chain := q.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain()
	var earliest time.Time
	for rest := chain; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return earliest
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			continue
		}
		if earliest.IsZero() || c.NotAfter.Before(earliest) {
			earliest = c.NotAfter
		}
	}
}
