package snp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/go-sev-guest/verify/testdata"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/attesttest"
	"github.com/agentnet/agentnode/enclave/attest/snp"
)

// FuzzParseReport feeds arbitrary bytes to the report and certificate
// table parser and the full verifier; neither may panic.
func FuzzParseReport(f *testing.F) {
	f.Add(testdata.AttestationBytes)
	s, err := attesttest.NewSNPSigner(attesttest.SNPSignerOptions{Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		f.Fatal(err)
	}
	withTable, err := s.Report([64]byte{1}, attesttest.SNPReportOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(withTable)
	wrap := bytes.Clone(withTable)
	// First table entry: offset 0xFFFFFFF0, length 0x20 (wraps in uint32).
	binary.LittleEndian.PutUint32(wrap[snp.ReportSize+16:], 0xFFFFFFF0)
	binary.LittleEndian.PutUint32(wrap[snp.ReportSize+20:], 0x20)
	f.Add(wrap)
	f.Add(withTable[:snp.ReportSize+10])
	v, err := snp.NewVerifier(snp.Config{Roots: s.Roots(), Now: func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := snp.ParseClaims(b)
		if err != nil {
			return
		}
		_, _ = v.Verify(context.Background(), attest.Evidence{Platform: attest.PlatformSNP, Quote: b}, c.ReportData, &attest.Policy{AllowDebug: true})
	})
}
