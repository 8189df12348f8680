package tdx_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-tdx-guest/testing/testdata"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/tdx"
)

// FuzzParseQuote feeds arbitrary bytes to the quote parser and the full
// verifier: neither may panic, and whatever parses must re-verify or fail
// with an error.
func FuzzParseQuote(f *testing.F) {
	f.Add(testdata.RawQuote)
	f.Add(testdata.RawQuote[:tdx.MinQuoteSize])
	f.Add([]byte{4, 0, 2, 0, 0x81, 0, 0, 0})
	trunc := bytes.Clone(testdata.RawQuote)
	trunc[0x278] = 0xFF // signed data size beyond the quote
	f.Add(trunc)
	auth := bytes.Clone(testdata.RawQuote)
	auth[0x27C+0x86+0x1C0] = 0xFF // QE auth data size beyond the certification data
	auth[0x27C+0x86+0x1C1] = 0xFF
	f.Add(auth)
	v := tdx.NewVerifier(tdx.Config{Now: at(sampleTime)})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := tdx.ParseClaims(b)
		if err != nil {
			return
		}
		if c.Platform != attest.PlatformTDX {
			t.Fatalf("platform %q", c.Platform)
		}
		if _, err := v.Verify(context.Background(), attest.Evidence{Platform: attest.PlatformTDX, Quote: b}, c.ReportData, nil); err != nil {
			return
		}
	})
}
