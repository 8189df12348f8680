package snp

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"

	"github.com/agentnet/agentnode/enclave/attest"
)

// ReportSize is the size of an SEV-SNP attestation report without its
// certificate table.
const ReportSize = abi.ReportSize

// parseAttestation parses a report and its optional certificate table. It
// never panics: the table's entries are bounds-checked before the library
// parser slices on them (it adds offset and length in uint32), and a panic
// the checks missed becomes an error.
func parseAttestation(raw []byte) (att *spb.Attestation, err error) {
	switch {
	case len(raw) == 0:
		return nil, fmt.Errorf("parse sev-snp report: %w", attest.ErrEmptyQuote)
	case len(raw) > attest.MaxQuoteSize:
		return nil, fmt.Errorf("parse sev-snp report: %d bytes: %w", len(raw), attest.ErrQuoteTooLarge)
	case len(raw) < ReportSize:
		return nil, fmt.Errorf("parse sev-snp report: %d bytes, want at least %d: %w", len(raw), ReportSize, attest.ErrMalformedQuote)
	}
	if err := checkCertTable(raw[ReportSize:]); err != nil {
		return nil, fmt.Errorf("parse sev-snp certificate table: %w: %w", attest.ErrMalformedQuote, err)
	}
	defer func() {
		if r := recover(); r != nil {
			att, err = nil, fmt.Errorf("parse sev-snp report: %w: %v", attest.ErrMalformedQuote, r)
		}
	}()
	report, perr := abi.ReportToProto(raw[:ReportSize])
	if perr != nil {
		return nil, fmt.Errorf("parse sev-snp report: %w: %v", attest.ErrMalformedQuote, perr)
	}
	var table abi.CertTable
	if err := table.Unmarshal(raw[ReportSize:]); err != nil {
		return nil, fmt.Errorf("parse sev-snp certificate table: %w: %v", attest.ErrMalformedQuote, err)
	}
	return &spb.Attestation{Report: report, CertificateChain: chainOf(&table)}, nil
}

// chainOf sorts a certificate table's entries by GUID, as the library's
// CertTable.Proto does, without its warning on stdout when the table has
// no VCEK (a normal case here: the caller may supply it).
func chainOf(t *abi.CertTable) *spb.CertificateChain {
	ch := &spb.CertificateChain{Extras: map[string][]byte{}}
	for _, e := range t.Entries {
		switch g := e.GUID.String(); g {
		case abi.VcekGUID:
			ch.VcekCert = e.RawCert
		case abi.VlekGUID:
			ch.VlekCert = e.RawCert
		case abi.AskGUID:
			ch.AskCert = e.RawCert
		case abi.ArkGUID:
			ch.ArkCert = e.RawCert
		default:
			ch.Extras[g] = e.RawCert
		}
	}
	return ch
}

// checkCertTable walks the table's 24-byte entries (GUID, offset, length)
// up to the all-zero terminator.
func checkCertTable(t []byte) error {
	if len(t) == 0 {
		return nil
	}
	for off := 0; ; off += abi.CertTableEntrySize {
		if off+abi.CertTableEntrySize > len(t) {
			return fmt.Errorf("entry at %d runs past the table's %d bytes", off, len(t))
		}
		e := t[off : off+abi.CertTableEntrySize]
		o, n := uint64(binary.LittleEndian.Uint32(e[16:])), uint64(binary.LittleEndian.Uint32(e[20:]))
		if o == 0 && n == 0 && bytes.Equal(e[:16], make([]byte, 16)) {
			return nil
		}
		if o+n > uint64(len(t)) {
			return fmt.Errorf("entry at %d spans bytes %d..%d of a %d-byte table", off, o, o+n, len(t))
		}
	}
}

// ParseClaims parses an SEV-SNP report and returns the claims it makes
// without verifying anything: for display and tools, never for trust.
func ParseClaims(raw []byte) (*attest.Claims, error) {
	att, err := parseAttestation(raw)
	if err != nil {
		return nil, err
	}
	return claimsOf(att.GetReport()), nil
}

func claimsOf(r *spb.Report) *attest.Claims {
	pol, _ := abi.ParseSnpPolicy(r.GetPolicy())
	c := &attest.Claims{
		Platform: attest.PlatformSNP,
		Measurements: map[string]attest.HexBytes{
			"measurement": bytes.Clone(r.GetMeasurement()),
			"host_data":   bytes.Clone(r.GetHostData()),
		},
		TCB:   tcbString(r),
		Debug: pol.Debug || r.GetPolicy()&(1<<policyDebugBit) != 0,
	}
	copy(c.ReportData[:], r.GetReportData())
	return c
}

// policyDebugBit is bit 19 of the guest policy (SEV-SNP ABI, table 9).
const policyDebugBit = 19

func tcbString(r *spb.Report) string {
	p := kds.DecomposeTCBVersion(kds.TCBVersion(r.GetReportedTcb()))
	return fmt.Sprintf("reported_tcb=%#016x (bl=%d tee=%d snp=%d ucode=%d) committed_tcb=%#016x fw=%d.%d.%d vmpl=%d",
		r.GetReportedTcb(), p.BlSpl, p.TeeSpl, p.SnpSpl, p.UcodeSpl, r.GetCommittedTcb(),
		r.GetCurrentMajor(), r.GetCurrentMinor(), r.GetCurrentBuild(), r.GetVmpl())
}
