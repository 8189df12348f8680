package tdx_test

import (
	"context"
	"testing"

	"github.com/google/go-tdx-guest/testing/testdata"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/attesttest"
	"github.com/agentnet/agentnode/enclave/attest/tdx"
)

// BenchmarkVerifyTDX measures one offline verification: the genuine sample
// against the Intel root without collateral, and a fake-chain quote with
// collateral (TCB info, QE identity, both CRLs) served from a
// CollateralCache directory.
func BenchmarkVerifyTDX(b *testing.B) {
	ctx := context.Background()
	b.Run("sample/no-collateral", func(b *testing.B) {
		c, err := tdx.ParseClaims(testdata.RawQuote)
		if err != nil {
			b.Fatal(err)
		}
		v := tdx.NewVerifier(tdx.Config{Now: at(sampleTime)})
		ev := attest.Evidence{Platform: attest.PlatformTDX, Quote: testdata.RawQuote}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, ev, c.ReportData, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fake/cached-collateral", func(b *testing.B) {
		e := newFakeEnv(b)
		want := attest.ResultReportData([]byte("bench"))
		ev, err := attesttest.NewTDXAttester(e.root, attesttest.TDXQuoteOptions{}).Attest(ctx, want)
		if err != nil {
			b.Fatal(err)
		}
		live, err := e.root.Collateral(attesttest.TDXCollateralOptions{})
		if err != nil {
			b.Fatal(err)
		}
		cache := tdx.NewCollateralCache(b.TempDir())
		if err := cache.Refresh(context.Background(), ev.Quote, e.root.Pool(), live, e.now); err != nil {
			b.Fatal(err)
		}
		v := e.verifier(tdx.Config{Collateral: cache})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, ev, want, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
