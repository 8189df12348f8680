package attesttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/testing/testdata"
	"google.golang.org/protobuf/proto"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/tdx"
)

// TDXRootCRLURL is where the fake root CA says its CRL lives; the
// collateral getter of [TDXRoot.Collateral] serves it.
const TDXRootCRLURL = "https://fake-pcs.agentnet.invalid/IntelSGXRootCA.der"

// TDXRoot is a test-only Intel PCK PKI: a root CA, a PCK Platform CA, a PCK
// leaf carrying the SGX extension of go-tdx-guest's genuine sample quote,
// and a TCB signing certificate for collateral. Quotes it signs pass the
// real go-tdx-guest verifier when its root is trusted, and fail against the
// Intel root. Safe for concurrent use.
type TDXRoot struct {
	// Root, Intermediate, PCK and TCBSigning are the fake certificates.
	Root, Intermediate, PCK, TCBSigning *x509.Certificate

	rootKey, interKey, pckKey, tcbKey *ecdsa.PrivateKey
	chainPEM                          []byte
	template                          *pb.QuoteV4 // read-only after NewTDXRoot
	notBefore, notAfter               time.Time
	rootPEM, interPEM, tcbPEM         []byte
}

// NewTDXRoot makes a fresh fake PKI whose certificates are valid from
// notBefore to notAfter.
func NewTDXRoot(notBefore, notAfter time.Time) (*TDXRoot, error) {
	v, err := abi.QuoteToProto(testdata.RawQuote)
	if err != nil {
		return nil, fmt.Errorf("parse sample quote: %w", err)
	}
	tmpl := v.(*pb.QuoteV4)
	sampleLeaf, err := firstCert(tmpl.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain())
	if err != nil {
		return nil, err
	}
	var sgxExt pkix.Extension
	for _, e := range sampleLeaf.Extensions {
		if e.Id.Equal(pcs.OidSgxExtension) {
			sgxExt = e
		}
	}
	if sgxExt.Id == nil {
		return nil, errors.New("sample PCK certificate has no SGX extension")
	}
	r := &TDXRoot{template: tmpl, notBefore: notBefore, notAfter: notAfter}
	for _, k := range []**ecdsa.PrivateKey{&r.rootKey, &r.interKey, &r.pckKey, &r.tcbKey} {
		if *k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	name := func(cn string) pkix.Name {
		return pkix.Name{CommonName: cn, Organization: []string{"Intel Corporation"}, Locality: []string{"Santa Clara"}, Province: []string{"CA"}, Country: []string{"US"}}
	}
	caUsage := x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	rootT := &x509.Certificate{SerialNumber: serial(), Subject: name("Intel SGX Root CA"), NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: caUsage, BasicConstraintsValid: true, IsCA: true, SubjectKeyId: skid(&r.rootKey.PublicKey),
		CRLDistributionPoints: []string{TDXRootCRLURL}}
	if r.Root, err = createCert(rootT, rootT, &r.rootKey.PublicKey, r.rootKey); err != nil {
		return nil, err
	}
	interT := &x509.Certificate{SerialNumber: serial(), Subject: name("Intel SGX PCK Platform CA"), NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: caUsage, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true, SubjectKeyId: skid(&r.interKey.PublicKey),
		CRLDistributionPoints: []string{TDXRootCRLURL}}
	if r.Intermediate, err = createCert(interT, r.Root, &r.interKey.PublicKey, r.rootKey); err != nil {
		return nil, err
	}
	// Exactly six extensions, as go-tdx-guest requires of a PCK leaf: SKI,
	// AKI, key usage, basic constraints, CRL distribution point, SGX.
	pckT := &x509.Certificate{SerialNumber: serial(), Subject: name("Intel SGX PCK Certificate"), NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, BasicConstraintsValid: true,
		SubjectKeyId: skid(&r.pckKey.PublicKey), CRLDistributionPoints: []string{pcs.PckCrlURL("platform")},
		ExtraExtensions: []pkix.Extension{sgxExt}}
	if r.PCK, err = createCert(pckT, r.Intermediate, &r.pckKey.PublicKey, r.interKey); err != nil {
		return nil, err
	}
	tcbT := &x509.Certificate{SerialNumber: serial(), Subject: name("Intel SGX TCB Signing"), NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, BasicConstraintsValid: true,
		SubjectKeyId: skid(&r.tcbKey.PublicKey)}
	if r.TCBSigning, err = createCert(tcbT, r.Root, &r.tcbKey.PublicKey, r.rootKey); err != nil {
		return nil, err
	}
	r.rootPEM, r.interPEM, r.tcbPEM = pemCert(r.Root), pemCert(r.Intermediate), pemCert(r.TCBSigning)
	r.chainPEM = append(append(pemCert(r.PCK), r.interPEM...), r.rootPEM...)
	return r, nil
}

// Pool returns a pool holding the fake root, for tdx.Config.Roots.
func (r *TDXRoot) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(r.Root)
	return p
}

// RootPEM returns the fake root certificate as PEM (a --roots file).
func (r *TDXRoot) RootPEM() []byte { return append([]byte(nil), r.rootPEM...) }

// TDXQuoteOptions sets what a fake TD claims. Nil fields keep the values of
// go-tdx-guest's sample quote.
type TDXQuoteOptions struct {
	MRTD       []byte    // 48 bytes
	RTMRs      [4][]byte // 48 bytes each
	MRConfigID []byte    // 48 bytes
	TeeTCBSVN  []byte    // 16 bytes
	Debug      bool      // sets TD_ATTRIBUTES.DEBUG
}

// Quote returns a TDX quote over reportData signed through the fake chain.
func (r *TDXRoot) Quote(reportData [64]byte, o TDXQuoteOptions) ([]byte, error) {
	q := proto.Clone(r.template).(*pb.QuoteV4)
	b := q.GetTdQuoteBody()
	b.ReportData = reportData[:]
	set := func(dst *[]byte, v []byte, n int, what string) error {
		if v == nil {
			return nil
		}
		if len(v) != n {
			return fmt.Errorf("fake tdx quote: %s has %d bytes, want %d", what, len(v), n)
		}
		*dst = append([]byte(nil), v...)
		return nil
	}
	if err := errors.Join(set(&b.MrTd, o.MRTD, abi.MrTdSize, "MRTD"), set(&b.MrConfigId, o.MRConfigID, abi.MrConfigIDSize, "MRCONFIGID"),
		set(&b.TeeTcbSvn, o.TeeTCBSVN, abi.TeeTcbSvnSize, "TEE_TCB_SVN")); err != nil {
		return nil, err
	}
	b.Rtmrs = append([][]byte(nil), b.Rtmrs...)
	for i, v := range o.RTMRs {
		if err := set(&b.Rtmrs[i], v, abi.RtmrSize, fmt.Sprintf("RTMR%d", i)); err != nil {
			return nil, err
		}
	}
	b.TdAttributes = append([]byte(nil), b.TdAttributes...)
	if o.Debug {
		b.TdAttributes[0] |= 0x01
	} else {
		b.TdAttributes[0] &^= 0x01
	}

	attKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	uncompressed, err := attKey.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	attPub := uncompressed[1:]
	sd := q.GetSignedData()
	sd.EcdsaAttestationKey = attPub
	cd := sd.GetCertificationData()
	qrc := cd.GetQeReportCertificationData()
	auth := qrc.GetQeAuthData().GetData()
	h := sha256.Sum256(append(append([]byte(nil), attPub...), auth...))
	qrc.QeReport.ReportData = append(h[:], make([]byte, 32)...)
	qeRaw, err := abi.EnclaveReportToAbiBytes(qrc.GetQeReport())
	if err != nil {
		return nil, err
	}
	if qrc.QeReportSignature, err = rawSign(r.pckKey, qeRaw); err != nil {
		return nil, err
	}
	qrc.PckCertificateChainData.PckCertChain = append([]byte(nil), r.chainPEM...)
	qrc.PckCertificateChainData.Size = uint32(len(r.chainPEM))
	cd.Size = uint32(0x180 + 0x40 + 2 + len(auth) + 6 + len(r.chainPEM))
	q.SignedDataSize = 0x80 + 6 + cd.Size

	hdr, err := abi.HeaderToAbiBytes(q.GetHeader())
	if err != nil {
		return nil, err
	}
	body, err := abi.TdQuoteBodyToAbiBytes(b)
	if err != nil {
		return nil, err
	}
	if sd.Signature, err = rawSign(attKey, append(hdr, body...)); err != nil {
		return nil, err
	}
	q.ExtraBytes = nil
	return abi.QuoteToAbiBytes(q)
}

// TDXProvider is a go-tdx-guest QuoteProvider that signs with a fake root,
// for tdx.NewAttester in tests.
type TDXProvider struct {
	Root *TDXRoot
	Opts TDXQuoteOptions
	// Unsupported makes IsSupported fail, as on a machine without TDX.
	Unsupported bool
	// Empty makes GetRawQuote return an empty quote and no error, as a
	// misconfigured quote generation service does.
	Empty bool
}

// IsSupported reports whether the fake is "present".
func (p *TDXProvider) IsSupported() error {
	if p.Unsupported {
		return fmt.Errorf("fake tdx provider: %w", attest.ErrNoTEE)
	}
	return nil
}

// GetRawQuote signs a quote over reportData.
func (p *TDXProvider) GetRawQuote(reportData [64]byte) ([]uint8, error) {
	if p.Empty {
		return nil, nil
	}
	return p.Root.Quote(reportData, p.Opts)
}

// NewTDXAttester returns the production tdx.Attester over a fake provider.
func NewTDXAttester(root *TDXRoot, o TDXQuoteOptions) *tdx.Attester {
	return tdx.NewAttester(&TDXProvider{Root: root, Opts: o})
}

func createCert(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("create %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n.Add(n, big.NewInt(1))
}

func skid(pub *ecdsa.PublicKey) []byte {
	b, _ := x509.MarshalPKIXPublicKey(pub)
	h := sha256.Sum256(b)
	return h[:20]
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func firstCert(chain []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(chain)
	if b == nil {
		return nil, errors.New("no PEM certificate in chain")
	}
	return x509.ParseCertificate(b.Bytes)
}

// rawSign signs SHA-256(msg) and returns r||s, 32 bytes each, the
// signature encoding of DCAP quotes and PCS collateral.
func rawSign(k *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	rr, ss, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	rr.FillBytes(out[:32])
	ss.FillBytes(out[32:])
	return out, nil
}
