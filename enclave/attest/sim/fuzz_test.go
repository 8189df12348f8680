package sim_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/sim"
)

// FuzzVerify feeds the simulated-quote verifier arbitrary quotes, and
// real quotes with one byte changed: it never panics, refuses with
// ErrMalformedQuote, ErrBadSignature or ErrReportDataMismatch, accepts
// only quotes that carry the expected report data, and refuses every
// change to a genuine quote.
func FuzzVerify(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	a := sim.NewAttester(key, [sim.MeasurementSize]byte{7})
	var want attest.ReportData
	copy(want[:], "fuzz report data")
	ev, err := a.Attest(context.Background(), want)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ev.Quote, uint16(0), byte(0))
	f.Add(ev.Quote, uint16(len(ev.Quote)-1), byte(1))
	f.Add(ev.Quote, uint16(70), byte(0x80))
	f.Add(ev.Quote[:len(ev.Quote)-1], uint16(0), byte(0))
	f.Add([]byte("agentnet-sim"), uint16(0), byte(0))
	f.Add([]byte{}, uint16(0), byte(0))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, quote []byte, at uint16, flip byte) {
		q := bytes.Clone(quote)
		if len(q) > 0 {
			q[int(at)%len(q)] ^= flip
		}
		c, err := sim.Verifier{}.Verify(ctx, attest.Evidence{Platform: attest.PlatformSim, Quote: q}, want, nil)
		if err != nil {
			if !errors.Is(err, attest.ErrMalformedQuote) && !errors.Is(err, attest.ErrBadSignature) && !errors.Is(err, attest.ErrReportDataMismatch) {
				t.Fatalf("refusal without a sentinel: %v", err)
			}
			return
		}
		if c.ReportData != want || c.Platform != attest.PlatformSim {
			t.Fatalf("accepted claims %+v", c)
		}
		if bytes.Equal(quote, ev.Quote) && !bytes.Equal(q, ev.Quote) {
			t.Fatalf("accepted a genuine quote changed at %d", int(at)%len(q))
		}
		if _, err := (sim.Verifier{}).Verify(ctx, attest.Evidence{Platform: attest.PlatformTDX, Quote: q}, want, nil); err == nil {
			t.Fatal("accepted a sim quote labelled tdx")
		}
	})
}
