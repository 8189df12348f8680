package attesttest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"math/big"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevtest "github.com/google/go-sev-guest/testing"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/agentnet/agentnode/enclave/attest/snp"
)

// SNPSignerOptions shapes a fake AMD signing chain.
type SNPSignerOptions struct {
	// Created is when the certificates were made; the VCEK is valid for
	// seven years from then, the ARK and ASK for 25.
	Created time.Time
	// VCEKTCB is the TCB the VCEK certifies. Reports claim it unless
	// SNPReportOptions.ReportedTCB says otherwise.
	VCEKTCB uint64
}

// SNPSigner is a fake AMD SEV firmware: go-sev-guest's test-only ARK, ASK,
// ASVK and VCEK (product Milan-B1) signing reports over any report data.
type SNPSigner struct {
	// Signer is go-sev-guest's test signer.
	Signer  *sevtest.AmdSigner
	product *spb.SevProduct
	tcb     uint64
}

// NewSNPSigner makes a fake signing chain.
func NewSNPSigner(o SNPSignerOptions) (*SNPSigner, error) {
	product := abi.DefaultSevProduct()
	name := kds.ProductName(product)
	b := &sevtest.AmdSignerBuilder{
		Keys:             sevtest.DefaultAmdKeys(),
		ProductName:      name,
		CSPID:            "agentnode-test",
		ArkCreationTime:  o.Created,
		AskCreationTime:  o.Created,
		AsvkCreationTime: o.Created,
		VcekCreationTime: o.Created,
		VlekCreationTime: o.Created,
		TCB:              kds.TCBVersion(o.VCEKTCB),
		VcekCustom: sevtest.CertOverride{
			Extensions: sevtest.CustomExtensions(kds.DecomposeTCBVersion(kds.TCBVersion(o.VCEKTCB)), make([]byte, abi.ChipIDSize), "", name),
		},
	}
	s, err := b.TestOnlyCertChain()
	if err != nil {
		return nil, fmt.Errorf("make fake amd chain: %w", err)
	}
	s.Product = product
	return &SNPSigner{Signer: s, product: product, tcb: o.VCEKTCB}, nil
}

// Roots returns verifier roots trusting the fake ARK/ASK/ASVK, for
// snp.Config.Roots.
func (s *SNPSigner) Roots() map[string][]*trust.AMDRootCerts {
	line := kds.ProductLine(s.product)
	return map[string][]*trust.AMDRootCerts{line: {{
		ProductLine: line, Product: line,
		ProductCerts: &trust.ProductCerts{Ark: s.Signer.Ark, Ask: s.Signer.Ask, Asvk: s.Signer.Asvk},
	}}}
}

// VCEK returns the fake VCEK certificate (DER).
func (s *SNPSigner) VCEK() []byte { return append([]byte(nil), s.Signer.Vcek.Raw...) }

// SNPReportOptions sets what a fake guest claims.
type SNPReportOptions struct {
	Measurement []byte // 48 bytes
	HostData    []byte // 32 bytes
	Debug       bool   // guest policy DEBUG
	MigrateMA   bool   // guest policy MIGRATE_MA
	VMPL        uint32
	// ReportedTCB, if non-zero, is claimed instead of the VCEK's TCB.
	ReportedTCB uint64
	// NoCertTable leaves the certificate table off, as /dev/sev-guest's
	// plain report does.
	NoCertTable bool
}

// Report returns a signed v3 report over reportData, followed by the
// certificate table unless o.NoCertTable.
func (s *SNPSigner) Report(reportData [64]byte, o SNPReportOptions) ([]byte, error) {
	fms := abi.MaskedCpuid1EaxFromSevProduct(s.product)
	full := sevtest.CreateRawReport(&sevtest.TestReportOptions{ReportData: reportData[:], FMS: fms, Version: 3})
	r := full[:abi.ReportSize]
	binary.LittleEndian.PutUint64(r[0x08:], abi.SnpPolicyToBytes(abi.SnpPolicy{SMT: true, Debug: o.Debug, MigrateMA: o.MigrateMA}))
	binary.LittleEndian.PutUint32(r[0x30:], o.VMPL)
	tcb := s.tcb
	reported := tcb
	if o.ReportedTCB != 0 {
		reported = o.ReportedTCB
	}
	binary.LittleEndian.PutUint64(r[0x38:], max(tcb, reported))  // CURRENT_TCB
	binary.LittleEndian.PutUint64(r[0x180:], reported)           // REPORTED_TCB
	binary.LittleEndian.PutUint64(r[0x1E0:], max(tcb, reported)) // COMMITTED_TCB
	binary.LittleEndian.PutUint64(r[0x1F0:], max(tcb, reported)) // LAUNCH_TCB
	if o.Measurement != nil {
		if len(o.Measurement) != abi.MeasurementSize {
			return nil, fmt.Errorf("fake snp report: measurement has %d bytes, want %d", len(o.Measurement), abi.MeasurementSize)
		}
		copy(r[0x90:0xC0], o.Measurement)
	}
	if o.HostData != nil {
		if len(o.HostData) != abi.HostDataSize {
			return nil, fmt.Errorf("fake snp report: host data has %d bytes, want %d", len(o.HostData), abi.HostDataSize)
		}
		copy(r[0xC0:0xE0], o.HostData)
	}
	rr, ss, err := s.Signer.Sign(abi.SignedComponent(r))
	if err != nil {
		return nil, fmt.Errorf("sign fake snp report: %w", err)
	}
	if err := abi.SetSignature(rr, ss, r); err != nil {
		return nil, fmt.Errorf("sign fake snp report: %w", err)
	}
	out := append([]byte(nil), r...)
	if o.NoCertTable {
		return out, nil
	}
	table, err := s.Signer.CertTableBytes()
	if err != nil {
		return nil, fmt.Errorf("fake snp cert table: %w", err)
	}
	return append(out, table...), nil
}

// KDS returns a getter serving the fake VCEK and product chain at AMD KDS
// URLs, plus the product CRL from CRL (nil serves none).
func (s *SNPSigner) KDS(crl []byte) (trust.HTTPSGetter, error) {
	k, err := sevtest.FakeKDSFromSigner(s.Signer)
	if err != nil {
		return nil, err
	}
	return &kdsWithCRL{kds: k, crl: crl, url: kds.CrlLinkByKey(kds.ProductLine(s.product), abi.VcekReportSigner)}, nil
}

// CRL returns a product CRL signed by the fake ARK, valid from thisUpdate
// to nextUpdate, listing the ASK and/or the VCEK as asked.
func (s *SNPSigner) CRL(thisUpdate, nextUpdate time.Time, revokeASK, revokeVCEK bool) ([]byte, error) {
	var entries []x509.RevocationListEntry
	if revokeASK {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s.Signer.Ask.SerialNumber, RevocationTime: thisUpdate})
	}
	if revokeVCEK {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s.Signer.Vcek.SerialNumber, RevocationTime: thisUpdate})
	}
	return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: thisUpdate, NextUpdate: nextUpdate,
		RevokedCertificateEntries: entries,
		SignatureAlgorithm:        x509.SHA384WithRSAPSS,
	}, s.Signer.Ark, s.Signer.Keys.Ark)
}

type kdsWithCRL struct {
	kds *sevtest.FakeKDS
	crl []byte
	url string
}

func (k *kdsWithCRL) Get(u string) ([]byte, error) {
	if u == k.url {
		if k.crl == nil {
			return nil, fmt.Errorf("fake kds: no CRL at %s", u)
		}
		return k.crl, nil
	}
	return k.kds.Get(u)
}

// SNPProvider is a go-sev-guest QuoteProvider that signs with a fake
// chain, for snp.NewAttester in tests.
type SNPProvider struct {
	Signer *SNPSigner
	Opts   SNPReportOptions
	// Unsupported makes IsSupported false, as on a machine without SNP.
	Unsupported bool
}

// IsSupported reports whether the fake is "present".
func (p *SNPProvider) IsSupported() bool { return !p.Unsupported }

// GetRawQuote returns a signed report with its certificate table.
func (p *SNPProvider) GetRawQuote(reportData [64]byte) ([]uint8, error) {
	return p.Signer.Report(reportData, p.Opts)
}

// GetRawQuoteAtLevel returns a report claiming VMPL vmpl.
func (p *SNPProvider) GetRawQuoteAtLevel(reportData [64]byte, vmpl uint) ([]uint8, error) {
	o := p.Opts
	o.VMPL = uint32(vmpl)
	return p.Signer.Report(reportData, o)
}

// Product returns the fake's product (deprecated in go-sev-guest).
func (p *SNPProvider) Product() *spb.SevProduct { return p.Signer.product }

// NewSNPAttester returns the production snp.Attester over a fake provider.
func NewSNPAttester(s *SNPSigner, o SNPReportOptions, opts ...snp.Option) *snp.Attester {
	return snp.NewAttester(&SNPProvider{Signer: s, Opts: o}, opts...)
}
