package tdx_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/testing/testdata"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/attesttest"
	"github.com/agentnet/agentnode/enclave/attest/tdx"
)

// sampleTime lies inside the validity of the genuine sample quote's PCK
// chain (2022-09-20 to 2029-09-20).
var sampleTime = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func sampleReportData(t *testing.T) attest.ReportData {
	t.Helper()
	c, err := tdx.ParseClaims(testdata.RawQuote)
	if err != nil {
		t.Fatal(err)
	}
	return c.ReportData
}

func TestGoldenSampleQuote(t *testing.T) {
	want := sampleReportData(t)
	v := tdx.NewVerifier(tdx.Config{Now: at(sampleTime)})
	ev := attest.Evidence{Platform: attest.PlatformTDX, Quote: testdata.RawQuote}
	c, err := v.Verify(context.Background(), ev, want, nil)
	if err != nil {
		t.Fatalf("genuine sample quote rejected: %v", err)
	}
	if c.Platform != attest.PlatformTDX || c.Debug {
		t.Errorf("claims = %+v", c)
	}
	for _, k := range []string{"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mrconfigid"} {
		if len(c.Measurements[k]) != 48 {
			t.Errorf("measurement %s has %d bytes", k, len(c.Measurements[k]))
		}
	}
	if !strings.Contains(strings.Join(c.Notes, ";"), tdx.NoteNoCollateral) {
		t.Errorf("notes %q lack %q", c.Notes, tdx.NoteNoCollateral)
	}
	if !strings.HasPrefix(c.TCB, "tee_tcb_svn=") {
		t.Errorf("TCB = %q", c.TCB)
	}
	if want := time.Date(2029, 9, 20, 0, 0, 0, 0, time.UTC); c.ValidUntil.Before(want.Add(-48*time.Hour)) || c.ValidUntil.After(want.Add(48*time.Hour)) {
		t.Errorf("ValidUntil = %v, want about %v", c.ValidUntil, want)
	}
	// The sample chain ends in the Intel root we embed.
	roots, err := tdx.ParseRoots(tdx.IntelRootPEM())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tdx.NewVerifier(tdx.Config{Roots: roots, Now: at(sampleTime)}).Verify(context.Background(), ev, want, nil); err != nil {
		t.Errorf("explicit Intel root: %v", err)
	}
}

func TestGoldenSampleRejections(t *testing.T) {
	want := sampleReportData(t)
	v := tdx.NewVerifier(tdx.Config{Now: at(sampleTime)})
	flip := func(off int) []byte {
		q := bytes.Clone(testdata.RawQuote)
		q[off] ^= 0x01
		return q
	}
	cases := []struct {
		name  string
		quote []byte
		at    time.Time
		want  error
		msg   string
	}{
		{"flipped byte in MRTD (signed body)", flip(0x30 + 0x88), sampleTime, attest.ErrBadSignature, "verify message digest"},
		{"flipped byte in signature", flip(0x27C + 5), sampleTime, attest.ErrBadSignature, "verify message digest"},
		{"expired chain", testdata.RawQuote, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), attest.ErrExpired, "expired"},
		{"empty", nil, sampleTime, attest.ErrEmptyQuote, ""},
		{"short", testdata.RawQuote[:100], sampleTime, attest.ErrMalformedQuote, ""},
		{"truncated", testdata.RawQuote[:len(testdata.RawQuote)-600], sampleTime, attest.ErrMalformedQuote, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tdx.NewVerifier(tdx.Config{Now: at(tc.at)})
			_, err := v.Verify(context.Background(), attest.Evidence{Platform: attest.PlatformTDX, Quote: tc.quote}, want, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err %q does not name %q", err, tc.msg)
			}
		})
	}
	// Wrong report data for the genuine quote.
	other := want
	other[0] ^= 1
	if _, err := v.Verify(context.Background(), attest.Evidence{Platform: attest.PlatformTDX, Quote: testdata.RawQuote}, other, nil); !errors.Is(err, attest.ErrReportDataMismatch) {
		t.Errorf("wrong report data: %v", err)
	}
}

// fakeEnv is a fake PKI plus the verifier that trusts it.
type fakeEnv struct {
	root *attesttest.TDXRoot
	now  time.Time
}

func newFakeEnv(t testing.TB) *fakeEnv {
	t.Helper()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	root, err := attesttest.NewTDXRoot(now.Add(-24*time.Hour), now.Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeEnv{root: root, now: now}
}

func (e *fakeEnv) verifier(col tdx.Config) *tdx.Verifier {
	col.Roots = e.root.Pool()
	if col.Now == nil {
		col.Now = at(e.now)
	}
	return tdx.NewVerifier(col)
}

func sessionRD(id, sess, client, nonce string) attest.ReportData {
	return attest.SessionReportData([]byte(id), []byte(sess), []byte(client), []byte(nonce))
}

func TestFakeChainThroughVerifiers(t *testing.T) {
	e := newFakeEnv(t)
	mrtd := bytes.Repeat([]byte{0xAA}, 48)
	rtmr0 := bytes.Repeat([]byte{0x0B}, 48)
	a := attesttest.NewTDXAttester(e.root, attesttest.TDXQuoteOptions{MRTD: mrtd, RTMRs: [4][]byte{rtmr0}})
	want := sessionRD("id", "sess", "client", "nonce-1")
	ev, err := a.Attest(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	vs := attest.Verifiers{attest.PlatformTDX: e.verifier(tdx.Config{})}
	pinned := &attest.Policy{TDX: attest.TDXPolicy{MRTD: []attest.HexBytes{mrtd}, RTMR0: []attest.HexBytes{rtmr0}}}
	c, err := vs.Verify(context.Background(), ev, want, pinned)
	if err != nil {
		t.Fatalf("fake quote rejected: %v", err)
	}
	if !bytes.Equal(c.Measurements["mrtd"], mrtd) || !strings.Contains(strings.Join(c.Notes, ";"), tdx.NoteCustomRoots) {
		t.Errorf("claims = %+v", c)
	}

	reject := []struct {
		name string
		ev   attest.Evidence
		want attest.ReportData
		p    *attest.Policy
		v    attest.Verifier
		err  error
	}{
		{"replayed nonce", ev, sessionRD("id", "sess", "client", "nonce-2"), pinned, nil, attest.ErrReportDataMismatch},
		{"other identity key", ev, sessionRD("relay", "sess", "client", "nonce-1"), pinned, nil, attest.ErrReportDataMismatch},
		{"wrong mrtd", ev, want, &attest.Policy{TDX: attest.TDXPolicy{MRTD: []attest.HexBytes{bytes.Repeat([]byte{1}, 48)}}}, nil, attest.ErrMeasurementMismatch},
		{"wrong rtmr0", ev, want, &attest.Policy{TDX: attest.TDXPolicy{RTMR0: []attest.HexBytes{mrtd}}}, nil, attest.ErrMeasurementMismatch},
		{"intel roots vs fake chain", ev, want, pinned, tdx.NewVerifier(tdx.Config{Now: at(e.now)}), attest.ErrBadSignature},
		{"expired chain", ev, want, pinned, tdx.NewVerifier(tdx.Config{Roots: e.root.Pool(), Now: at(e.now.Add(2 * 365 * 24 * time.Hour))}), attest.ErrExpired},
		{"tcb below policy", ev, want, &attest.Policy{TDX: attest.TDXPolicy{MinTeeTCBSVN: bytes.Repeat([]byte{0xFF}, 16)}}, nil, attest.ErrTCBOutOfDate},
		{"sim policy refuses tdx", ev, want, &attest.Policy{Platforms: []attest.Platform{attest.PlatformSNP}}, nil, attest.ErrPlatformNotAllowed},
		{"empty quote", attest.Evidence{Platform: attest.PlatformTDX}, want, pinned, nil, attest.ErrEmptyQuote},
	}
	for _, tc := range reject {
		t.Run(tc.name, func(t *testing.T) {
			vs := vs
			if tc.v != nil {
				vs = attest.Verifiers{attest.PlatformTDX: tc.v}
			}
			_, err := vs.Verify(context.Background(), tc.ev, tc.want, tc.p)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
	t.Run("tampered byte", func(t *testing.T) {
		for _, off := range []int{0x30 + 0x10, 0x30 + 0x208, 0x27C + 1, 0x27C + 0x40 + 3, len(ev.Quote) - 200} {
			q := bytes.Clone(ev.Quote)
			q[off] ^= 0x80
			_, err := vs.Verify(context.Background(), attest.Evidence{Platform: attest.PlatformTDX, Quote: q}, want, pinned)
			if err == nil {
				t.Errorf("flipped byte %#x accepted", off)
			}
		}
	})
}

func TestDebugBit(t *testing.T) {
	e := newFakeEnv(t)
	a := attesttest.NewTDXAttester(e.root, attesttest.TDXQuoteOptions{Debug: true})
	want := sessionRD("a", "b", "c", "d")
	ev, err := a.Attest(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	v := e.verifier(tdx.Config{})
	_, err = v.Verify(context.Background(), ev, want, nil)
	if !errors.Is(err, attest.ErrDebug) || !strings.Contains(err.Error(), "DEBUG") {
		t.Fatalf("debug TD: %v", err)
	}
	c, err := v.Verify(context.Background(), ev, want, &attest.Policy{AllowDebug: true})
	if err != nil || !c.Debug {
		t.Fatalf("debug allowed: %v %+v", err, c)
	}
}

func TestCollateral(t *testing.T) {
	e := newFakeEnv(t)
	want := sessionRD("a", "b", "c", "d")
	ev, err := attesttest.NewTDXAttester(e.root, attesttest.TDXQuoteOptions{}).Attest(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	good, err := e.root.Collateral(attesttest.TDXCollateralOptions{NextUpdate: e.now.Add(30 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.verifier(tdx.Config{Collateral: good}).Verify(context.Background(), ev, want, nil)
	if err != nil {
		t.Fatalf("fake collateral rejected: %v", err)
	}
	if len(c.Notes) != 1 || !strings.Contains(c.TCB, "UpToDate") {
		t.Errorf("notes %q tcb %q", c.Notes, c.TCB)
	}
	if !c.ValidUntil.Equal(e.now.Add(30 * 24 * time.Hour)) {
		t.Errorf("ValidUntil = %v, want collateral nextUpdate", c.ValidUntil)
	}

	cases := []struct {
		name string
		o    attesttest.TDXCollateralOptions
		now  time.Time
		err  error
	}{
		{"out-of-date TCB", attesttest.TDXCollateralOptions{TCBStatus: "OutOfDate"}, e.now, attest.ErrTCBOutOfDate},
		{"revoked PCK", attesttest.TDXCollateralOptions{RevokePCK: true}, e.now, attest.ErrRevoked},
		{"revoked PCK CA", attesttest.TDXCollateralOptions{RevokeIntermediate: true}, e.now, attest.ErrRevoked},
		{"expired collateral", attesttest.TDXCollateralOptions{NextUpdate: e.now.Add(time.Hour)}, e.now.Add(2 * time.Hour), attest.ErrExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := e.root.Collateral(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.verifier(tdx.Config{Collateral: g, Now: at(tc.now)}).Verify(context.Background(), ev, want, nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestCollateralCache(t *testing.T) {
	e := newFakeEnv(t)
	want := sessionRD("a", "b", "c", "d")
	ev, err := attesttest.NewTDXAttester(e.root, attesttest.TDXQuoteOptions{}).Attest(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	live, err := e.root.Collateral(attesttest.TDXCollateralOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cache := tdx.NewCollateralCache(t.TempDir())
	if _, err := e.verifier(tdx.Config{Collateral: cache}).Verify(context.Background(), ev, want, nil); err == nil || !strings.Contains(err.Error(), "not cached") {
		t.Fatalf("empty cache: %v", err)
	}
	if err := cache.Refresh(context.Background(), ev.Quote, e.root.Pool(), live, e.now); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verifier(tdx.Config{Collateral: cache}).Verify(context.Background(), ev, want, nil); err != nil {
		t.Fatalf("cached collateral: %v", err)
	}
	if err := cache.Refresh(context.Background(), ev.Quote, e.root.Pool(), attesttest.MapGetter{}, e.now); err == nil {
		t.Error("refresh from an empty source succeeded")
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tdx.NewCollateralCache(t.TempDir()).Refresh(cctx, ev.Quote, e.root.Pool(), live, e.now); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled refresh: %v", err)
	}
}

func TestParallelVerify(t *testing.T) {
	e := newFakeEnv(t)
	g, err := e.root.Collateral(attesttest.TDXCollateralOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := e.verifier(tdx.Config{Collateral: g})
	a := attesttest.NewTDXAttester(e.root, attesttest.TDXQuoteOptions{})
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
			other := sha512.Sum512([]byte{byte(i)})
			if _, err := v.Verify(context.Background(), ev, other, nil); !errors.Is(err, attest.ErrReportDataMismatch) {
				t.Errorf("mismatch: %v", err)
			}
		}()
	}
	wg.Wait()
}
