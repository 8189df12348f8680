package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/agentnet/agentnode/enclave/attest/tdx"
)

// sampleAt lies inside the validity of both libraries' sample certificates
// (TDX PCK to 2029-09-20, SNP VCEK to 2029-09-24).
const sampleAt = "2024-06-01T00:00:00Z"

func writeFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func flipped(b []byte, off int) []byte {
	c := bytes.Clone(b)
	c[off] ^= 0x01
	return c
}

// oneLineFailure checks a rejection: exit 1, nothing on stdout, one line on
// stderr containing every want.
func oneLineFailure(t *testing.T, code int, stdout, stderr string, want ...string) {
	t.Helper()
	if code != 1 || stdout != "" || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 with one line", code, stdout, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
}

// Must show: go-tdx-guest's genuine sample quote is accepted with --at
// inside its validity and no collateral, saying "collateral: not checked";
// one flipped byte in the signed body or the signature is rejected.
func TestAttestVerifyTDXSample(t *testing.T) {
	raw := writeFile(t, "quote.bin", tdxdata.RawQuote)
	hexFile := writeFile(t, "quote.hex", []byte("0x"+hex.EncodeToString(tdxdata.RawQuote)+"\n"))
	mrtd := hex.EncodeToString(tdxdata.RawQuote[0x30+0x88 : 0x30+0x88+48])
	for _, f := range []string{raw, hexFile} {
		code, out, errOut := runCmd(t, "attest", "verify", "--quote", f, "--at", sampleAt)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", f, code, errOut)
		}
		for _, want := range []string{"evidence verified", "platform:     tdx", "debug:        false", "mrtd:         " + mrtd,
			"\ncollateral: not checked\n", "\nmeasurement: unpinned\n", "\nreport_data: not checked\n", "valid_until:  2029-"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", f, want, out)
			}
		}
	}

	code, out, _ := runCmd(t, "attest", "verify", "--quote", raw, "--at", sampleAt, "--json")
	var v struct {
		Verified     bool
		Platform     string
		ReportData   string `json:"report_data"`
		Measurements map[string]string
		Notes        []string
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 {
		t.Fatalf("--json: exit %d, %v:\n%s", code, err, out)
	}
	if !v.Verified || v.Platform != "tdx" || v.Measurements["mrtd"] != mrtd || !strings.Contains(strings.Join(v.Notes, ","), "collateral: not checked") {
		t.Errorf("--json = %+v", v)
	}

	// Its own report data checks out; another does not.
	if code, out, errOut := runCmd(t, "attest", "verify", "--quote", raw, "--at", sampleAt, "--platform", "tdx", "--report-data", v.ReportData); code != 0 || strings.Contains(out, "report_data: not checked") {
		t.Errorf("with its report data: exit %d, %s%s", code, out, errOut)
	}
	other := []byte(v.ReportData)
	other[0] ^= 1
	code, out, errOut := runCmd(t, "attest", "verify", "--quote", raw, "--at", sampleAt, "--report-data", string(other))
	oneLineFailure(t, code, out, errOut, "report data does not match")

	code, out, errOut = runCmd(t, "attest", "verify", "--quote", writeFile(t, "q", flipped(tdxdata.RawQuote, 0x27C+5)), "--at", sampleAt, "--json")
	var rejected struct {
		Verified bool   `json:"verified"`
		Error    string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &rejected); err != nil || code != 1 || rejected.Verified || !strings.Contains(rejected.Error, "signature") || errOut == "" {
		t.Errorf("--json rejection: exit %d, %v, stdout %q, stderr %q", code, err, out, errOut)
	}

	for _, tc := range []struct {
		name  string
		quote []byte
		at    string
		want  []string
	}{
		{"flipped byte in MRTD (signed body)", flipped(tdxdata.RawQuote, 0x30+0x88), sampleAt, []string{"quote signature does not verify"}},
		{"flipped byte in the quote signature", flipped(tdxdata.RawQuote, 0x27C+5), sampleAt, []string{"quote signature does not verify"}},
		{"after the PCK certificate expired", tdxdata.RawQuote, "2030-01-01T00:00:00Z", []string{"expired"}},
		{"truncated", tdxdata.RawQuote[:600], sampleAt, []string{"malformed quote"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, "attest", "verify", "--quote", writeFile(t, "q", tc.quote), "--platform", "tdx", "--at", tc.at)
			oneLineFailure(t, code, out, errOut, tc.want...)
		})
	}
}

// Must show: go-sev-guest's genuine sample report with its VCEK verifies by
// signature, but the default policy rejects it because its guest policy
// allows debugging; a policy allowing debug accepts it; one flipped byte in
// the signed body or the signature is rejected.
func TestAttestVerifySNPSample(t *testing.T) {
	report := writeFile(t, "report.bin", sevdata.AttestationBytes)
	vcek := writeFile(t, "vcek.der", sevdata.VcekBytes)
	allowDebug := writeFile(t, "policy.toml", []byte("allow_debug = true\n"))

	code, out, errOut := runCmd(t, "attest", "verify", "--quote", report, "--vcek", vcek, "--at", sampleAt)
	oneLineFailure(t, code, out, errOut, "allows debugging", attest.ErrDebug.Error())

	code, out, errOut = runCmd(t, "attest", "verify", "--quote", report, "--vcek", vcek, "--at", sampleAt, "--policy", allowDebug)
	if code != 0 {
		t.Fatalf("debug-allowing policy: exit %d: %s", code, errOut)
	}
	measurement := hex.EncodeToString(sevdata.AttestationBytes[0x90:0xC0])
	for _, want := range []string{"evidence verified", "platform:     snp", "debug:        true", "measurement:  " + measurement, "host_data:", "reported_tcb=", "\nmeasurement: unpinned\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	for _, tc := range []struct {
		name  string
		args  []string
		quote []byte
		want  []string
	}{
		{"flipped byte in MEASUREMENT (signed body)", []string{"--vcek", vcek}, flipped(sevdata.AttestationBytes, 0x90), []string{"quote signature does not verify", "signature"}},
		{"flipped byte in the report signature", []string{"--vcek", vcek}, flipped(sevdata.AttestationBytes, 0x2A0+3), []string{"quote signature does not verify", "signature"}},
		{"no VCEK and no fetching", nil, sevdata.AttestationBytes, []string{"--vcek"}},
		{"VCEK that is not a certificate", []string{"--vcek", allowDebug}, sevdata.AttestationBytes, []string{"certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"attest", "verify", "--quote", writeFile(t, "r", tc.quote), "--at", sampleAt, "--policy", allowDebug}, tc.args...)
			code, out, errOut := runCmd(t, args...)
			oneLineFailure(t, code, out, errOut, tc.want...)
		})
	}
}

// fakeTDX is a fake-root TDX guest reached through a fake configfs-tsm.
type fakeTDX struct {
	root  *attesttest.TDXRoot
	roots string // --roots file
	opts  attesttest.TDXQuoteOptions
}

func newFakeTDX(t testing.TB, mrtdByte byte) *fakeTDX {
	t.Helper()
	now := time.Now()
	root, err := attesttest.NewTDXRoot(now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeTDX{root: root, roots: writeFile(t, "tdx-root.pem", root.RootPEM()),
		opts: attesttest.TDXQuoteOptions{MRTD: bytes.Repeat([]byte{mrtdByte}, 48)}}
}

func (f *fakeTDX) cmd() attestCmd {
	return attestCmd{tee: detect.Config{TSM: attesttest.TDXTSM(f.root, f.opts)}}
}

// fakeSNP is a fake-signer SEV-SNP guest reached through a fake
// configfs-tsm.
type fakeSNP struct {
	signer *attesttest.SNPSigner
	roots  string
	opts   attesttest.SNPReportOptions
}

func newFakeSNP(t testing.TB, measurementByte byte) *fakeSNP {
	t.Helper()
	s, err := attesttest.NewSNPSigner(attesttest.SNPSignerOptions{Created: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeSNP{signer: s, roots: writeFile(t, "amd-roots.pem", detect.AMDRootsPEM(s.Signer.Ask, s.Signer.Ark)),
		opts: attesttest.SNPReportOptions{Measurement: bytes.Repeat([]byte{measurementByte}, 48), HostData: bytes.Repeat([]byte{7}, 32)}}
}

func (f *fakeSNP) cmd() attestCmd {
	return attestCmd{tee: detect.Config{
		TSM:         &attesttest.FakeTSM{Provider: "sev_guest"},
		SNPProvider: &attesttest.SNPProvider{Signer: f.signer, Opts: f.opts},
	}}
}

func runAttestCmd(t *testing.T, a attestCmd, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := a.run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAttestQuoteThenVerify(t *testing.T) {
	tdxGuest, snpGuest := newFakeTDX(t, 0x11), newFakeSNP(t, 0x22)
	for _, tc := range []struct {
		platform string
		cmd      attestCmd
		roots    string
	}{
		{"tdx", tdxGuest.cmd(), tdxGuest.roots},
		{"snp", snpGuest.cmd(), snpGuest.roots},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			rd := "0x" + strings.Repeat("ab", 32)
			code, out, errOut := runAttestCmd(t, tc.cmd, "quote", "--report-data", rd)
			if code != 0 || !strings.Contains(errOut, "platform: "+tc.platform) || !strings.Contains(errOut, strings.Repeat("ab", 32)+strings.Repeat("00", 32)) {
				t.Fatalf("quote: exit %d, stderr %q", code, errOut)
			}
			q := writeFile(t, "quote.hex", []byte(out))
			code, out, errOut = runCmd(t, "attest", "verify", "--quote", q, "--roots", tc.roots, "--report-data", rd)
			if code != 0 || !strings.Contains(out, "platform:     "+tc.platform) || strings.Contains(out, "report_data: not checked") {
				t.Fatalf("verify: exit %d: %s%s", code, out, errOut)
			}
			code, out, errOut = runCmd(t, "attest", "verify", "--quote", q, "--roots", tc.roots, "--report-data", "0xac")
			oneLineFailure(t, code, out, errOut, "report data does not match")
			// Against the vendor roots the fake chain is refused.
			code, out, errOut = runCmd(t, "attest", "verify", "--quote", q)
			oneLineFailure(t, code, out, errOut, "quote signature does not verify")
			// The roots of the other platform are no roots for this one.
			otherRoots := map[string]string{"tdx": snpGuest.roots, "snp": tdxGuest.roots}[tc.platform]
			code, out, errOut = runCmd(t, "attest", "verify", "--quote", q, "--roots", otherRoots)
			oneLineFailure(t, code, out, errOut, "roots for "+tc.platform)

			code, out, _ = runAttestCmd(t, tc.cmd, "quote", "--json")
			var v struct {
				Platform   string `json:"platform"`
				ReportData string `json:"report_data"`
				Quote      string `json:"quote"`
			}
			if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Platform != tc.platform || len(v.ReportData) != 128 || len(v.Quote) < 2000 {
				t.Fatalf("quote --json: exit %d, %v, platform %q, report data %q, %d hex digits of quote", code, err, v.Platform, v.ReportData, len(v.Quote))
			}
		})
	}
}

func noTEE(t *testing.T) attestCmd {
	dir := t.TempDir()
	return attestCmd{tee: detect.Config{TSMDir: filepath.Join(dir, "tsm"), SevGuestDevice: filepath.Join(dir, "sev-guest")}}
}

func TestAttestQuoteWithoutTEE(t *testing.T) {
	code, out, errOut := runAttestCmd(t, noTEE(t), "quote")
	oneLineFailure(t, code, out, errOut, "no TEE found", "sev-guest")
}

func TestAttestMeasure(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	binSum := fmt.Sprintf("# binary sha256: %x\n", sha256.Sum256(b))

	code, out, errOut := runAttestCmd(t, noTEE(t), "measure")
	if code != 0 || !strings.Contains(out, binSum) || !strings.Contains(errOut, "no TEE found") {
		t.Fatalf("without TEE: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	tdxGuest, snpGuest := newFakeTDX(t, 0x11), newFakeSNP(t, 0x22)
	for _, tc := range []struct {
		platform string
		guest    attestCmd
		other    attestCmd // same chain, other measurement
		roots    string
		check    func(*attest.Policy) bool
	}{
		{"tdx", tdxGuest.cmd(), (&fakeTDX{root: tdxGuest.root, opts: attesttest.TDXQuoteOptions{MRTD: bytes.Repeat([]byte{0x12}, 48)}}).cmd(), tdxGuest.roots,
			func(p *attest.Policy) bool {
				return len(p.TDX.MRTD) == 1 && p.TDX.MRTD[0][0] == 0x11 && len(p.TDX.RTMR0) == 1 && len(p.TDX.RTMR3) == 0 && len(p.TDX.MRConfigID) == 1
			}},
		{"snp", snpGuest.cmd(), (&fakeSNP{signer: snpGuest.signer, opts: attesttest.SNPReportOptions{Measurement: bytes.Repeat([]byte{0x23}, 48)}}).cmd(), snpGuest.roots,
			func(p *attest.Policy) bool {
				return len(p.SNP.Measurement) == 1 && p.SNP.Measurement[0][0] == 0x22 && len(p.SNP.HostData) == 1 && p.SNP.HostData[0][0] == 7
			}},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			code, out, errOut := runAttestCmd(t, tc.guest, "measure")
			if code != 0 || !strings.Contains(out, binSum) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			// The output is a policy file pinning this guest.
			p, err := attest.ParsePolicy([]byte(out))
			if err != nil {
				t.Fatalf("measure output is not a policy: %v\n%s", err, out)
			}
			if !tc.check(p) || len(p.Platforms) != 1 || string(p.Platforms[0]) != tc.platform {
				t.Fatalf("policy %+v from:\n%s", p, out)
			}
			policy := writeFile(t, "policy.toml", []byte(out))
			verify := func(a attestCmd) (int, string, string) {
				_, q, _ := runAttestCmd(t, a, "quote")
				return runCmd(t, "attest", "verify", "--quote", writeFile(t, "q", []byte(q)), "--roots", tc.roots, "--policy", policy)
			}
			if code, out, errOut := verify(tc.guest); code != 0 || strings.Contains(out, "unpinned") {
				t.Fatalf("own quote under the measured policy: exit %d: %s%s", code, out, errOut)
			}
			code, out, errOut = verify(tc.other)
			oneLineFailure(t, code, out, errOut, "measurement not allowed by policy")

			code, out, _ = runAttestCmd(t, tc.guest, "measure", "--json")
			var v struct {
				Platform     string
				Measurements map[string]string
				BinarySHA256 string `json:"binary_sha256"`
			}
			if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Platform != tc.platform || len(v.Measurements) == 0 || !strings.Contains(binSum, v.BinarySHA256) {
				t.Fatalf("measure --json: exit %d, %v, %+v", code, err, v)
			}
		})
	}
}

func TestAttestVerifyCollateral(t *testing.T) {
	g := newFakeTDX(t, 0x11)
	_, q, _ := runAttestCmd(t, g.cmd(), "quote")
	quote := writeFile(t, "q", []byte(q))
	now := time.Now()
	for _, tc := range []struct {
		name   string
		status string
		want   string
	}{
		{"up to date", "UpToDate", ""},
		{"out of date", "OutOfDate", "out of date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getter, err := g.root.Collateral(attesttest.TDXCollateralOptions{Issued: now.Add(-time.Hour), NextUpdate: now.Add(24 * time.Hour), TCBStatus: tc.status})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			cache := tdx.NewCollateralCache(dir)
			for u, r := range getter {
				if err := cache.Put(u, r.Header, r.Body); err != nil {
					t.Fatal(err)
				}
			}
			code, out, errOut := runCmd(t, "attest", "verify", "--quote", quote, "--roots", g.roots, "--collateral", dir)
			if tc.want != "" {
				if code != 1 || !strings.Contains(strings.ToLower(errOut), tc.want) {
					t.Fatalf("exit %d, stderr %q", code, errOut)
				}
				return
			}
			if code != 0 || strings.Contains(out, "collateral: not checked") {
				t.Fatalf("exit %d: %s%s", code, out, errOut)
			}
		})
	}
	// An empty cache cannot vouch for anything.
	code, out, errOut := runCmd(t, "attest", "verify", "--quote", quote, "--roots", g.roots, "--collateral", t.TempDir())
	oneLineFailure(t, code, out, errOut)
}

func TestAttestUsageAndBadInput(t *testing.T) {
	q := writeFile(t, "q", tdxdata.RawQuote)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"attest"}, 2, "usage"},
		{[]string{"attest", "frob"}, 2, "unknown subcommand"},
		{[]string{"attest", "verify"}, 2, "-quote"},
		{[]string{"attest", "verify", "--quote", q, "extra"}, 2, "unexpected argument"},
		{[]string{"attest", "verify", "--quote", filepath.Join(t.TempDir(), "none")}, 1, "no such file"},
		{[]string{"attest", "verify", "--quote", writeFile(t, "e", nil)}, 1, "empty quote"},
		{[]string{"attest", "verify", "--quote", writeFile(t, "o", []byte("abc"))}, 1, "odd number"},
		{[]string{"attest", "verify", "--quote", writeFile(t, "g", []byte("hello, world"))}, 1, "not a TDX quote"},
		{[]string{"attest", "verify", "--quote", writeFile(t, "big", make([]byte, maxEvidenceFile+1))}, 1, "over"},
		{[]string{"attest", "verify", "--quote", q, "--platform", "sgx"}, 1, "unknown platform"},
		{[]string{"attest", "verify", "--quote", q, "--at", "yesterday"}, 1, "RFC 3339"},
		{[]string{"attest", "verify", "--quote", q, "--report-data", "xyz"}, 1, "--report-data"},
		{[]string{"attest", "verify", "--quote", q, "--report-data", strings.Repeat("00", 65)}, 1, "65 bytes"},
		{[]string{"attest", "verify", "--quote", q, "--policy", writeFile(t, "p", []byte("alow_debug = true"))}, 1, "unknown key"},
		{[]string{"attest", "verify", "--quote", q, "--roots", writeFile(t, "r", []byte("not pem"))}, 1, "--roots"},
		{[]string{"attest", "verify", "--quote", q, "--vcek", filepath.Join(t.TempDir(), "none")}, 1, "--vcek"},
		{[]string{"attest", "quote", "--report-data", "zz"}, 1, "--report-data"},
	} {
		code, out, errOut := runCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || (code == 1 && out != "") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", tc.args[1:], code, out, errOut, tc.code, tc.want)
		}
	}
	if code, out, _ := runCmd(t, "attest", "help"); code != 0 || !strings.Contains(out, "measure") {
		t.Errorf("attest help: %d %q", code, out)
	}
}

func TestDecodeEvidence(t *testing.T) {
	q := tdxdata.RawQuote
	for name, in := range map[string][]byte{
		"raw":           q,
		"hex":           []byte(hex.EncodeToString(q)),
		"HEX with 0x":   []byte("0X" + strings.ToUpper(hex.EncodeToString(q))),
		"hex and space": []byte("\n  " + hex.EncodeToString(q) + "\r\n"),
	} {
		got, err := decodeEvidence(in)
		if err != nil || !bytes.Equal(got, q) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Binary that ends in whitespace bytes stays untouched.
	bin := append(bytes.Clone(q), ' ', '\n')
	if got, err := decodeEvidence(bin); err != nil || !bytes.Equal(got, bin) {
		t.Errorf("binary with trailing whitespace: %v", err)
	}
}

func TestParseReportData(t *testing.T) {
	rd, err := parseReportData("0x0102")
	if err != nil || rd[0] != 1 || rd[1] != 2 || rd[2] != 0 || rd[63] != 0 {
		t.Fatalf("short: %x %v", rd, err)
	}
	full := strings.Repeat("ff", 64)
	if rd, err := parseReportData(full); err != nil || rd.String() != full {
		t.Fatalf("full: %v", err)
	}
	for _, bad := range []string{"", "0x", "0xg0", "abc", strings.Repeat("00", 65)} {
		if _, err := parseReportData(bad); err == nil {
			t.Errorf("%q: parsed", bad)
		}
	}
}

func FuzzDecodeEvidence(f *testing.F) {
	f.Add(tdxdata.RawQuote[:700])
	f.Add([]byte(hex.EncodeToString(sevdata.AttestationBytes[:64])))
	f.Add([]byte("0x0"))
	f.Add([]byte(" \n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := decodeEvidence(b)
		if err != nil {
			return
		}
		if len(q) == 0 || len(q) > attest.MaxQuoteSize {
			t.Fatalf("decoded %d bytes", len(q))
		}
		t2 := bytes.TrimSpace(b)
		if !bytes.Equal(q, b) && !strings.EqualFold(hex.EncodeToString(q), strings.TrimPrefix(strings.TrimPrefix(string(t2), "0x"), "0X")) {
			t.Fatalf("decoded %x from %q", q, b)
		}
	})
}

func FuzzParseReportData(f *testing.F) {
	f.Add("0x01")
	f.Add(strings.Repeat("ab", 64))
	f.Add("xyz")
	f.Fuzz(func(t *testing.T, s string) {
		rd, err := parseReportData(s)
		if err != nil {
			return
		}
		var b attest.HexBytes
		if b.UnmarshalText([]byte(s)) != nil || !bytes.Equal(rd[:len(b)], b) {
			t.Fatalf("%q -> %x", s, rd)
		}
	})
}

func BenchmarkAttestVerifyTDXSample(b *testing.B) {
	q := writeFile(b, "q", tdxdata.RawQuote)
	args := []string{"attest", "verify", "--quote", q, "--at", sampleAt}
	for b.Loop() {
		if code := run(context.Background(), args, io.Discard, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}

func BenchmarkAttestVerifySNPSample(b *testing.B) {
	q := writeFile(b, "q", sevdata.AttestationBytes)
	v := writeFile(b, "v", sevdata.VcekBytes)
	p := writeFile(b, "p", []byte("allow_debug = true"))
	args := []string{"attest", "verify", "--quote", q, "--vcek", v, "--policy", p, "--at", sampleAt}
	for b.Loop() {
		if code := run(context.Background(), args, io.Discard, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
