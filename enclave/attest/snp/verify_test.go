package snp_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-sev-guest/verify/testdata"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/attesttest"
	"github.com/agentnet/agentnode/enclave/attest/snp"
)

// sampleTime lies inside the sample VCEK's validity (to 2029-09-24).
var sampleTime = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func sampleEvidence(t *testing.T) (attest.Evidence, attest.ReportData) {
	t.Helper()
	raw := testdata.AttestationBytes
	c, err := snp.ParseClaims(raw)
	if err != nil {
		t.Fatal(err)
	}
	return attest.Evidence{Platform: attest.PlatformSNP, Quote: raw}, c.ReportData
}

func TestGoldenSampleReport(t *testing.T) {
	ev, want := sampleEvidence(t)
	v, err := snp.NewVerifier(snp.Config{Now: at(sampleTime)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Signature and chain hold, but the guest policy allows debugging.
	_, err = v.VerifyWithCert(ctx, ev, want, nil, testdata.VcekBytes)
	if !errors.Is(err, attest.ErrDebug) || !strings.Contains(err.Error(), "allows debugging") {
		t.Fatalf("default policy: err = %v, want a debug rejection", err)
	}
	c, err := v.VerifyWithCert(ctx, ev, want, &attest.Policy{AllowDebug: true}, testdata.VcekBytes)
	if err != nil {
		t.Fatalf("debug-allowing policy rejected the genuine sample: %v", err)
	}
	if !c.Debug || len(c.Measurements["measurement"]) != 48 || len(c.Measurements["host_data"]) != 32 {
		t.Errorf("claims = %+v", c)
	}
	if c.ValidUntil.Year() != 2029 {
		t.Errorf("ValidUntil = %v", c.ValidUntil)
	}
	// Without a certificate and without fetching there is nothing to check
	// the signature with.
	if _, err := v.Verify(ctx, ev, want, &attest.Policy{AllowDebug: true}); !errors.Is(err, attest.ErrBadSignature) || !strings.Contains(err.Error(), "--vcek") {
		t.Errorf("no VCEK: %v", err)
	}

	flip := func(off int) attest.Evidence {
		q := bytes.Clone(ev.Quote)
		q[off] ^= 0x01
		return attest.Evidence{Platform: attest.PlatformSNP, Quote: q}
	}
	allow := &attest.Policy{AllowDebug: true}
	for _, tc := range []struct {
		name string
		ev   attest.Evidence
	}{
		{"flipped byte in measurement (signed body)", flip(0x90)},
		{"flipped byte in signature", flip(0x2A0 + 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.VerifyWithCert(ctx, tc.ev, want, allow, testdata.VcekBytes)
			if !errors.Is(err, attest.ErrBadSignature) || !strings.Contains(err.Error(), "signature") {
				t.Fatalf("err = %v", err)
			}
		})
	}
	late, _ := snp.NewVerifier(snp.Config{Now: at(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))})
	if _, err := late.VerifyWithCert(ctx, ev, want, allow, testdata.VcekBytes); !errors.Is(err, attest.ErrExpired) {
		t.Errorf("expired VCEK: %v", err)
	}
}

type fakeEnv struct {
	signer *attesttest.SNPSigner
	now    time.Time
}

func newFakeEnv(t testing.TB, tcb uint64) *fakeEnv {
	t.Helper()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s, err := attesttest.NewSNPSigner(attesttest.SNPSignerOptions{Created: now.Add(-time.Hour), VCEKTCB: tcb})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeEnv{signer: s, now: now}
}

func (e *fakeEnv) verifier(t testing.TB, cfg snp.Config) *snp.Verifier {
	t.Helper()
	if cfg.Roots == nil {
		cfg.Roots = e.signer.Roots()
	}
	if cfg.Now == nil {
		cfg.Now = at(e.now)
	}
	v, err := snp.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const goodTCB = 0x0b_00_00_00_00_00_03_02 // ucode 0x0b, snp 0x?, tee 3, bl 2

func TestFakeSignerThroughVerifiers(t *testing.T) {
	e := newFakeEnv(t, goodTCB)
	meas := bytes.Repeat([]byte{0x5A}, 48)
	host := bytes.Repeat([]byte{0x11}, 32)
	a := attesttest.NewSNPAttester(e.signer, attesttest.SNPReportOptions{Measurement: meas, HostData: host})
	want := attest.SessionReportData([]byte("id"), []byte("s"), []byte("c"), []byte("nonce-1"))
	ctx := context.Background()
	ev, err := a.Attest(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	vs := attest.Verifiers{attest.PlatformSNP: e.verifier(t, snp.Config{})}
	pinned := &attest.Policy{SNP: attest.SNPPolicy{Measurement: []attest.HexBytes{meas}, HostData: []attest.HexBytes{host}}}
	c, err := vs.Verify(ctx, ev, want, pinned)
	if err != nil {
		t.Fatalf("fake report rejected: %v", err)
	}
	if !bytes.Equal(c.Measurements["host_data"], host) || c.Debug {
		t.Errorf("claims = %+v", c)
	}

	debugEv, _ := attesttest.NewSNPAttester(e.signer, attesttest.SNPReportOptions{Debug: true}).Attest(ctx, want)
	migrateEv, _ := attesttest.NewSNPAttester(e.signer, attesttest.SNPReportOptions{MigrateMA: true}).Attest(ctx, want)
	vmpl2Ev, _ := attesttest.NewSNPAttester(e.signer, attesttest.SNPReportOptions{}, snp.WithVMPL(2)).Attest(ctx, want)
	mismatchEv, _ := attesttest.NewSNPAttester(e.signer, attesttest.SNPReportOptions{ReportedTCB: goodTCB + 1}).Attest(ctx, want)
	zero := 0
	amd, err := snp.NewVerifier(snp.Config{Now: at(e.now)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ev   attest.Evidence
		want attest.ReportData
		p    *attest.Policy
		v    attest.Verifier
		err  error
	}{
		{"replayed nonce", ev, attest.SessionReportData([]byte("id"), []byte("s"), []byte("c"), []byte("nonce-2")), pinned, nil, attest.ErrReportDataMismatch},
		{"other identity key", ev, attest.SessionReportData([]byte("relay"), []byte("s"), []byte("c"), []byte("nonce-1")), pinned, nil, attest.ErrReportDataMismatch},
		{"wrong measurement", ev, want, &attest.Policy{SNP: attest.SNPPolicy{Measurement: []attest.HexBytes{bytes.Repeat([]byte{1}, 48)}}}, nil, attest.ErrMeasurementMismatch},
		{"wrong host data", ev, want, &attest.Policy{SNP: attest.SNPPolicy{HostData: []attest.HexBytes{bytes.Repeat([]byte{1}, 32)}}}, nil, attest.ErrMeasurementMismatch},
		{"debug policy", debugEv, want, nil, nil, attest.ErrDebug},
		{"migration agent", migrateEv, want, nil, nil, attest.ErrPolicyViolation},
		{"vmpl mismatch", vmpl2Ev, want, &attest.Policy{SNP: attest.SNPPolicy{VMPL: &zero}}, nil, attest.ErrPolicyViolation},
		{"vcek/report tcb mismatch", mismatchEv, want, nil, nil, attest.ErrBadSignature},
		{"tcb below policy", ev, want, &attest.Policy{SNP: attest.SNPPolicy{MinTCB: goodTCB + 0x0100}}, nil, attest.ErrTCBOutOfDate},
		{"amd roots vs fake chain", ev, want, nil, amd, attest.ErrBadSignature},
		{"expired chain", ev, want, nil, e.verifier(t, snp.Config{Now: at(e.now.Add(8 * 365 * 24 * time.Hour))}), attest.ErrExpired},
		{"empty quote", attest.Evidence{Platform: attest.PlatformSNP}, want, nil, nil, attest.ErrEmptyQuote},
		{"short quote", attest.Evidence{Platform: attest.PlatformSNP, Quote: ev.Quote[:100]}, want, nil, nil, attest.ErrMalformedQuote},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vs := vs
			if tc.v != nil {
				vs = attest.Verifiers{attest.PlatformSNP: tc.v}
			}
			_, err := vs.Verify(ctx, tc.ev, tc.want, tc.p)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
	if _, err := vs.Verify(ctx, vmpl2Ev, want, &attest.Policy{SNP: attest.SNPPolicy{VMPL: func() *int { v := 2; return &v }()}}); err != nil {
		t.Errorf("vmpl 2 pinned: %v", err)
	}
	t.Run("tampered byte", func(t *testing.T) {
		for _, off := range []int{0x50, 0x90, 0xC0, 0x180, 0x2A0 + 10} {
			q := bytes.Clone(ev.Quote)
			q[off] ^= 0x80
			if _, err := vs.Verify(ctx, attest.Evidence{Platform: attest.PlatformSNP, Quote: q}, want, nil); err == nil {
				t.Errorf("flipped byte %#x accepted", off)
			}
		}
	})
}

func TestNoCertTable(t *testing.T) {
	e := newFakeEnv(t, goodTCB)
	ctx := context.Background()
	want := attest.ResultReportData([]byte("commitment"))
	ev, err := attesttest.NewSNPAttester(e.signer, attesttest.SNPReportOptions{NoCertTable: true}).Attest(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Quote) != snp.ReportSize {
		t.Fatalf("report has %d bytes", len(ev.Quote))
	}
	offline := e.verifier(t, snp.Config{})
	if _, err := offline.Verify(ctx, ev, want, nil); !errors.Is(err, attest.ErrBadSignature) {
		t.Fatalf("offline without VCEK: %v", err)
	}
	if _, err := offline.VerifyWithCert(ctx, ev, want, nil, e.signer.VCEK()); err != nil {
		t.Fatalf("supplied VCEK: %v", err)
	}
	kds, err := e.signer.KDS(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fetching := e.verifier(t, snp.Config{Fetch: true, Getter: kds, CacheDir: dir})
	if _, err := fetching.Verify(ctx, ev, want, nil); err != nil {
		t.Fatalf("fetched VCEK: %v", err)
	}
	// The VCEK is now cached: a verifier whose source is gone still works.
	cached := e.verifier(t, snp.Config{Fetch: true, Getter: attesttestDead{}, CacheDir: dir})
	if _, err := cached.Verify(ctx, ev, want, nil); err != nil {
		t.Fatalf("cached VCEK: %v", err)
	}
}

type attesttestDead struct{}

func (attesttestDead) Get(u string) ([]byte, error) { return nil, errors.New("offline: " + u) }

func TestRevocation(t *testing.T) {
	e := newFakeEnv(t, goodTCB)
	ctx := context.Background()
	want := attest.ResultReportData([]byte("x"))
	ev, err := attesttest.NewSNPAttester(e.signer, attesttest.SNPReportOptions{}).Attest(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		ask, vcek bool
		err       error
	}{
		{"clean", false, false, nil},
		{"revoked ASK", true, false, attest.ErrRevoked},
		{"revoked VCEK", false, true, attest.ErrRevoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crl, err := e.signer.CRL(e.now.Add(-time.Hour), e.now.Add(24*time.Hour), tc.ask, tc.vcek)
			if err != nil {
				t.Fatal(err)
			}
			g, err := e.signer.KDS(crl)
			if err != nil {
				t.Fatal(err)
			}
			v := e.verifier(t, snp.Config{CheckRevocations: true, Getter: g})
			c, err := v.Verify(ctx, ev, want, nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && strings.Contains(strings.Join(c.Notes, ";"), snp.NoteNoCRL) {
				t.Errorf("notes %q claim no CRL check", c.Notes)
			}
		})
	}
}

func TestParallelVerify(t *testing.T) {
	e := newFakeEnv(t, goodTCB)
	v := e.verifier(t, snp.Config{})
	a := attesttest.NewSNPAttester(e.signer, attesttest.SNPReportOptions{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := attest.ResultReportData([]byte{byte(i)})
			ev, err := a.Attest(context.Background(), want)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := v.Verify(context.Background(), ev, want, nil); err != nil {
				t.Error(err)
			}
			if _, err := v.Verify(context.Background(), ev, attest.ResultReportData([]byte{byte(i), 1}), nil); !errors.Is(err, attest.ErrReportDataMismatch) {
				t.Errorf("mismatch: %v", err)
			}
		}()
	}
	wg.Wait()
}
