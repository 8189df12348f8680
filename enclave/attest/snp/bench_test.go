package snp_test

import (
	"context"
	"testing"

	"github.com/google/go-sev-guest/verify/testdata"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/attesttest"
	"github.com/agentnet/agentnode/enclave/attest/snp"
)

// BenchmarkVerifySNP measures one offline verification: the genuine Milan
// sample with its VCEK against AMD's roots, and a fake-chain report with
// its certificate table.
func BenchmarkVerifySNP(b *testing.B) {
	ctx := context.Background()
	b.Run("sample/vcek", func(b *testing.B) {
		c, err := snp.ParseClaims(testdata.AttestationBytes)
		if err != nil {
			b.Fatal(err)
		}
		v, err := snp.NewVerifier(snp.Config{Now: at(sampleTime)})
		if err != nil {
			b.Fatal(err)
		}
		ev := attest.Evidence{Platform: attest.PlatformSNP, Quote: testdata.AttestationBytes}
		p := &attest.Policy{AllowDebug: true}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.VerifyWithCert(ctx, ev, c.ReportData, p, testdata.VcekBytes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fake/cert-table", func(b *testing.B) {
		e := newFakeEnv(b, goodTCB)
		want := attest.ResultReportData([]byte("bench"))
		ev, err := attesttest.NewSNPAttester(e.signer, attesttest.SNPReportOptions{}).Attest(ctx, want)
		if err != nil {
			b.Fatal(err)
		}
		v := e.verifier(b, snp.Config{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, ev, want, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
