package detect_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sevdata "github.com/google/go-sev-guest/verify/testdata"
	tdxdata "github.com/google/go-tdx-guest/testing/testdata"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/attesttest"
	"github.com/agentnet/agentnode/enclave/attest/detect"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/enclave/attest/snp"
	"github.com/agentnet/agentnode/enclave/attest/tdx"
)

func noKernel(t *testing.T) detect.Config {
	dir := t.TempDir()
	return detect.Config{TSMDir: filepath.Join(dir, "tsm"), SevGuestDevice: filepath.Join(dir, "sev-guest")}
}

func TestNoTEE(t *testing.T) {
	for _, mode := range []string{"", "auto", "tdx", "snp"} {
		cfg := noKernel(t)
		cfg.TEE = mode
		_, err := detect.Open(cfg)
		if !errors.Is(err, attest.ErrNoTEE) || !strings.Contains(err.Error(), `tee = "sim"`) {
			t.Errorf("mode %q: err = %v", mode, err)
		}
	}
	cfg := noKernel(t)
	cfg.TEE = "sgx"
	if _, err := detect.Open(cfg); !errors.Is(err, attest.ErrUnknownPlatform) {
		t.Errorf("unknown mode: %v", err)
	}
	cfg.TEE = "sim"
	if _, err := detect.Open(cfg); err == nil {
		t.Error("sim without a simulator opened")
	}
	s := sim.NewAttester(ed25519.NewKeyFromSeed(make([]byte, 32)), [48]byte{})
	cfg.Sim = s
	if a, err := detect.Open(cfg); err != nil || a.Platform() != attest.PlatformSim {
		t.Errorf("sim: %v", err)
	}
}

func TestDetectTDX(t *testing.T) {
	now := time.Now()
	root, err := attesttest.NewTDXRoot(now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cfg := noKernel(t)
	cfg.TSM = attesttest.TDXTSM(root, attesttest.TDXQuoteOptions{})
	if pl, err := detect.Detect(cfg); err != nil || pl != attest.PlatformTDX {
		t.Fatalf("Detect = %v, %v", pl, err)
	}
	a, err := detect.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := attest.ResultReportData([]byte("c"))
	ev, err := a.Attest(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tdx.NewVerifier(tdx.Config{Roots: root.Pool()}).Verify(context.Background(), ev, want, nil); err != nil {
		t.Fatal(err)
	}
	cfg.TEE = "snp"
	if _, err := detect.Open(cfg); !errors.Is(err, attest.ErrNoTEE) {
		t.Errorf("tee = snp on a tdx guest: %v", err)
	}
}

func TestDetectSNP(t *testing.T) {
	signer, err := attesttest.NewSNPSigner(attesttest.SNPSignerOptions{Created: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// configfs-tsm with the sev_guest provider.
	cfg := noKernel(t)
	cfg.TSM = &attesttest.FakeTSM{Provider: "sev_guest"}
	cfg.SNPProvider = &attesttest.SNPProvider{Signer: signer}
	a, err := detect.Open(cfg)
	if err != nil || a.Platform() != attest.PlatformSNP {
		t.Fatalf("Open = %v, %v", a, err)
	}
	want := attest.ResultReportData([]byte("c"))
	ev, err := a.Attest(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	v, err := snp.NewVerifier(snp.Config{Roots: signer.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), ev, want, nil); err != nil {
		t.Fatal(err)
	}
	// Only the /dev/sev-guest device.
	cfg = noKernel(t)
	if err := os.WriteFile(cfg.SevGuestDevice, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if pl, err := detect.Detect(cfg); err != nil || pl != attest.PlatformSNP {
		t.Errorf("device only: %v, %v", pl, err)
	}
	cfg.TEE = "tdx"
	if _, err := detect.Open(cfg); !errors.Is(err, attest.ErrNoTEE) {
		t.Errorf("tee = tdx on an snp guest: %v", err)
	}
}

func TestVerifyRawGolden(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	c, err := detect.VerifyRaw(ctx, detect.VerifyInput{Quote: tdxdata.RawQuote, At: at})
	if err != nil {
		t.Fatalf("tdx sample: %v", err)
	}
	notes := strings.Join(c.Notes, ";")
	for _, n := range []string{tdx.NoteNoCollateral, detect.NoteReportDataUnchecked, detect.NoteUnpinned} {
		if !strings.Contains(notes, n) {
			t.Errorf("notes %q lack %q", notes, n)
		}
	}
	rd := c.ReportData
	if _, err := detect.VerifyRaw(ctx, detect.VerifyInput{Quote: tdxdata.RawQuote, At: at, ReportData: &rd, Platform: attest.PlatformTDX}); err != nil {
		t.Errorf("tdx sample with its report data: %v", err)
	}
	rd[1] ^= 1
	if _, err := detect.VerifyRaw(ctx, detect.VerifyInput{Quote: tdxdata.RawQuote, At: at, ReportData: &rd}); !errors.Is(err, attest.ErrReportDataMismatch) {
		t.Errorf("tdx sample, other report data: %v", err)
	}

	_, err = detect.VerifyRaw(ctx, detect.VerifyInput{Quote: sevdata.AttestationBytes, VCEK: sevdata.VcekBytes, At: at})
	if !errors.Is(err, attest.ErrDebug) || !strings.Contains(err.Error(), "debugging") {
		t.Errorf("snp sample, default policy: %v", err)
	}
	c, err = detect.VerifyRaw(ctx, detect.VerifyInput{Quote: sevdata.AttestationBytes, VCEK: sevdata.VcekBytes, At: at, Policy: &attest.Policy{AllowDebug: true}})
	if err != nil || c.Platform != attest.PlatformSNP || !c.Debug {
		t.Errorf("snp sample, debug allowed: %v %+v", err, c)
	}
}

func TestVerifyRawFakeRoots(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	root, err := attesttest.NewTDXRoot(now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	q, err := root.Quote([64]byte{1}, attesttest.TDXQuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := detect.VerifyRaw(ctx, detect.VerifyInput{Quote: q}); !errors.Is(err, attest.ErrBadSignature) {
		t.Errorf("fake tdx against intel: %v", err)
	}
	if _, err := detect.VerifyRaw(ctx, detect.VerifyInput{Quote: q, Roots: root.RootPEM()}); err != nil {
		t.Errorf("fake tdx with its roots: %v", err)
	}

	signer, err := attesttest.NewSNPSigner(attesttest.SNPSignerOptions{Created: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := signer.Report([64]byte{2}, attesttest.SNPReportOptions{NoCertTable: true})
	if err != nil {
		t.Fatal(err)
	}
	rootsPEM := detect.AMDRootsPEM(signer.Signer.Ask, signer.Signer.Ark)
	if _, err := detect.VerifyRaw(ctx, detect.VerifyInput{Quote: r, Roots: rootsPEM}); !errors.Is(err, attest.ErrBadSignature) {
		t.Errorf("snp without vcek: %v", err)
	}
	if _, err := detect.VerifyRaw(ctx, detect.VerifyInput{Quote: r, Roots: rootsPEM, VCEK: signer.VCEK()}); err != nil {
		t.Errorf("snp with vcek: %v", err)
	}

	s := sim.NewAttester(ed25519.NewKeyFromSeed(make([]byte, 32)), [48]byte{})
	ev, _ := s.Attest(ctx, attest.ReportData{3})
	if _, err := detect.VerifyRaw(ctx, detect.VerifyInput{Quote: ev.Quote}); !errors.Is(err, attest.ErrPlatformNotAllowed) {
		t.Errorf("sim under default policy: %v", err)
	}
	if _, err := detect.VerifyRaw(ctx, detect.VerifyInput{Quote: ev.Quote, Policy: attest.DevPolicy()}); err != nil {
		t.Errorf("sim under dev policy: %v", err)
	}
}

func TestGuessPlatform(t *testing.T) {
	for _, tc := range []struct {
		q    []byte
		want attest.Platform
	}{
		{tdxdata.RawQuote, attest.PlatformTDX},
		{sevdata.AttestationBytes, attest.PlatformSNP},
		{append([]byte("AGNTSIM1"), make([]byte, 10)...), attest.PlatformSim},
	} {
		if got, err := detect.GuessPlatform(tc.q); err != nil || got != tc.want {
			t.Errorf("GuessPlatform = %v, %v; want %v", got, err, tc.want)
		}
	}
	for _, q := range [][]byte{nil, []byte("hello"), make([]byte, 2000)} {
		if _, err := detect.GuessPlatform(q); err == nil {
			t.Errorf("guessed a platform for %d bytes", len(q))
		}
	}
}

func TestVerifiers(t *testing.T) {
	now := time.Now()
	root, err := attesttest.NewTDXRoot(now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := attesttest.NewSNPSigner(attesttest.SNPSignerOptions{Created: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := detect.Verifiers(detect.VerifierConfig{TDXRoots: root.RootPEM(), SNPRoots: detect.AMDRootsPEM(signer.Signer.Ask, signer.Signer.Ark)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := attest.ResultReportData([]byte("r"))
	for _, a := range []attest.Attester{
		attesttest.NewTDXAttester(root, attesttest.TDXQuoteOptions{}),
		attesttest.NewSNPAttester(signer, attesttest.SNPReportOptions{}),
	} {
		ev, err := a.Attest(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := vs.Verify(ctx, ev, want, nil); err != nil {
			t.Errorf("%s: %v", a.Platform(), err)
		}
	}
	if _, err := detect.Verifiers(detect.VerifierConfig{TDXRoots: []byte("junk")}); err == nil {
		t.Error("junk roots accepted")
	}
}
