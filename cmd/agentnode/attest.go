package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/detect"
	"github.com/agentnet/agentnode/enclave/attest/snp"
	"github.com/agentnet/agentnode/enclave/attest/tdx"
)

// attestCmd is `agentnode attest`. tee says where quote and measure look
// for the machine's TEE; the zero value looks at the kernel's interfaces
// for TDX or SEV-SNP (never the simulator), tests point it at fakes.
type attestCmd struct {
	tee detect.Config
}

func runAttest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return attestCmd{}.run(ctx, args, stdout, stderr)
}

const attestUsage = `usage: agentnode attest <quote|verify|measure> [flags]

  quote    print a fresh quote of this machine's TEE (hex) and its platform
  verify   verify a quote offline and print its claims
  measure  print the measurements a policy should pin for this node

Run 'agentnode attest <subcommand> -h' for its flags.
`

func (a attestCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, attestUsage)
		return 2
	}
	switch args[0] {
	case "quote":
		return a.quote(ctx, args[1:], stdout, stderr)
	case "verify":
		return attestVerify(ctx, args[1:], stdout, stderr)
	case "measure":
		return a.measure(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, attestUsage)
		return 0
	}
	fmt.Fprintf(stderr, "agentnode attest: unknown subcommand %q\n%s", args[0], attestUsage)
	return 2
}

// quote prints a fresh quote over --report-data (or 64 random bytes).
func (a attestCmd) quote(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("attest quote", stderr)
	rdHex := fs.String("report-data", "", "up to 64 bytes of hex to sign into the quote, zero-padded on the right (default: 64 random bytes)")
	asJSON := fs.Bool("json", false, `print {"platform", "report_data", "quote"} as JSON`)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := failer(stderr, "attest quote")
	var rd attest.ReportData
	if *rdHex != "" {
		var err error
		if rd, err = parseReportData(*rdHex); err != nil {
			return fail("--report-data: %v", err)
		}
	} else if _, err := rand.Read(rd[:]); err != nil {
		return fail("report data: %v", err)
	}
	att, err := detect.Open(a.tee)
	if err != nil {
		return fail("%v", err)
	}
	ev, err := att.Attest(ctx, rd)
	if err != nil {
		return fail("%v", err)
	}
	if *asJSON {
		return writeJSON(stdout, fail, struct {
			Platform   attest.Platform `json:"platform"`
			ReportData string          `json:"report_data"`
			Quote      attest.HexBytes `json:"quote"`
		}{ev.Platform, rd.String(), ev.Quote})
	}
	fmt.Fprintf(stderr, "platform: %s\nreport_data: %s\n", ev.Platform, rd)
	fmt.Fprintf(stdout, "%x\n", ev.Quote)
	return 0
}

func attestVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("attest verify", stderr)
	quotePath := fs.String("quote", "", "file holding the quote: raw binary or hex (required)")
	platform := fs.String("platform", "", "tdx or snp (default: recognised from the quote)")
	rdHex := fs.String("report-data", "", "expected report data (hex, up to 64 bytes, zero-padded); default: not checked, and said so")
	policyPath := fs.String("policy", "", "policy file (TOML, docs/policy.md); default: genuine hardware, any measurement, no debug")
	var roots multiFlag
	fs.Var(&roots, "roots", "PEM trust anchors replacing the vendor roots: TDX root CA(s), or an AMD ASK+ARK bundle (repeatable)")
	vcekPath := fs.String("vcek", "", "SEV-SNP VCEK or VLEK certificate (DER or PEM) for a report without a certificate table")
	collateral := fs.String("collateral", "", "TDX collateral cache directory: check Intel's TCB status and revocation lists")
	atStr := fs.String("at", "", "verify as of this time (RFC 3339); default: now")
	asJSON := fs.Bool("json", false, "print the claims as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := failer(stderr, "attest verify")
	if *quotePath == "" {
		fs.Usage()
		return 2
	}
	in := detect.VerifyInput{TDXCollateralDir: *collateral}
	var err error
	if in.Quote, err = readEvidenceFile(*quotePath); err != nil {
		return fail("%v", err)
	}
	if *platform != "" {
		if in.Platform, err = attest.ParsePlatform(*platform); err != nil {
			return fail("--platform: %v", err)
		}
	} else if in.Platform, err = detect.GuessPlatform(in.Quote); err != nil {
		return fail("%v", err)
	}
	if *rdHex != "" {
		rd, err := parseReportData(*rdHex)
		if err != nil {
			return fail("--report-data: %v", err)
		}
		in.ReportData = &rd
	}
	if in.Policy, err = loadPolicy(*policyPath, false); err != nil {
		return fail("%v", err)
	}
	if len(roots) > 0 {
		tr, err := loadRoots(roots)
		if err != nil {
			return fail("%v", err)
		}
		if in.Roots = tr.forPlatform(in.Platform); in.Roots == nil {
			return fail("--roots: none of %v holds roots for %s evidence", []string(roots), in.Platform)
		}
	}
	if *vcekPath != "" {
		if in.VCEK, err = readCapped(*vcekPath, maxCertFile); err != nil {
			return fail("--vcek: %v", err)
		}
	}
	if *atStr != "" {
		if in.At, err = time.Parse(time.RFC3339, *atStr); err != nil {
			return fail("--at: want RFC 3339 such as 2024-06-01T00:00:00Z: %v", err)
		}
	}
	claims, err := detect.VerifyRaw(ctx, in)
	if err != nil {
		if *asJSON {
			writeJSON(stdout, fail, struct {
				Verified bool   `json:"verified"`
				Error    string `json:"error"`
			}{false, err.Error()})
		}
		return fail("%v", err)
	}
	if *asJSON {
		return writeJSON(stdout, fail, claimsJSON(claims))
	}
	fmt.Fprintln(stdout, "evidence verified")
	printClaims(stdout, claims)
	return 0
}

// measure prints, as a policy file, the measurements of a fresh quote of
// this machine's TEE, and the SHA-256 of the running binary.
func (a attestCmd) measure(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("attest measure", stderr)
	asJSON := fs.Bool("json", false, "print the platform, measurements and binary digest as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := failer(stderr, "attest measure")
	exe, sum, err := binarySHA256()
	if err != nil {
		return fail("%v", err)
	}
	var claims *attest.Claims
	att, teeErr := detect.Open(a.tee)
	if teeErr == nil {
		var rd attest.ReportData
		if _, err := rand.Read(rd[:]); err != nil {
			return fail("report data: %v", err)
		}
		ev, err := att.Attest(ctx, rd)
		if err != nil {
			return fail("%v", err)
		}
		if claims, err = parseClaims(ev); err != nil {
			return fail("%v", err)
		}
	} else if !errors.Is(teeErr, attest.ErrNoTEE) {
		return fail("%v", teeErr)
	} else {
		fmt.Fprintf(stderr, "agentnode attest measure: %v\nagentnode attest measure: only the binary's SHA-256 can be given here; run this inside the TDX or SEV-SNP guest for the measurements to pin\n", teeErr)
	}
	if *asJSON {
		out := struct {
			Platform     attest.Platform            `json:"platform,omitempty"`
			Measurements map[string]attest.HexBytes `json:"measurements,omitempty"`
			TCB          string                     `json:"tcb,omitempty"`
			Debug        bool                       `json:"debug"`
			Binary       string                     `json:"binary"`
			BinarySHA256 string                     `json:"binary_sha256"`
		}{Binary: exe, BinarySHA256: fmt.Sprintf("%x", sum)}
		if claims != nil {
			out.Platform, out.Measurements, out.TCB, out.Debug = claims.Platform, claims.Measurements, claims.TCB, claims.Debug
		}
		return writeJSON(stdout, fail, out)
	}
	if claims != nil {
		writePolicyPins(stdout, claims)
	} else {
		fmt.Fprintln(stdout, "# No hardware TEE on this machine: no measurements to pin.")
	}
	fmt.Fprintf(stdout, "\n# binary: %s\n# binary sha256: %x\n", exe, sum)
	return 0
}

// parseClaims reads the claims a fresh quote of this machine makes, for
// display. They are not verified: the quote came from this machine's own
// TEE interface a moment ago, and verification against vendor roots is
// `attest verify`'s job.
func parseClaims(ev attest.Evidence) (*attest.Claims, error) {
	switch ev.Platform {
	case attest.PlatformTDX:
		return tdx.ParseClaims(ev.Quote)
	case attest.PlatformSNP:
		return snp.ParseClaims(ev.Quote)
	}
	return nil, fmt.Errorf("measure %s evidence: %w", ev.Platform, attest.ErrUnknownPlatform)
}

// writePolicyPins writes claims as a policy file (docs/policy.md) pinning
// every measurement a policy should pin; registers that change at run time
// are written commented out.
func writePolicyPins(w io.Writer, c *attest.Claims) {
	fmt.Fprintf(w, "# Measurements of this node from a fresh %s quote, as a policy file (docs/policy.md).\n", c.Platform)
	fmt.Fprintf(w, "# Compare them with the values recomputed from the published image before trusting them.\n")
	if c.TCB != "" {
		fmt.Fprintf(w, "# tcb: %s\n", c.TCB)
	}
	if c.Debug {
		fmt.Fprintln(w, "# WARNING: this TEE is in debug mode: the host can read its memory, and policies refuse it unless allow_debug = true.")
	}
	fmt.Fprintf(w, "platforms = [%q]\n\n[%s]\n", c.Platform, c.Platform)
	for _, name := range measurementOrder(c) {
		v := c.Measurements[name]
		switch {
		case c.Platform == attest.PlatformTDX && name == "rtmr3":
			fmt.Fprintln(w, "# rtmr3 is extended at run time; pin it only if you replay its event log.")
			fmt.Fprintf(w, "# %s = [%q]\n", name, v.String())
		default:
			fmt.Fprintf(w, "%s = [%q]\n", name, v.String())
		}
	}
}

// measurementOrder returns c's measurement names, known registers first in
// their natural order, then any others sorted.
func measurementOrder(c *attest.Claims) []string {
	var names []string
	seen := map[string]bool{}
	for _, n := range []string{"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mrconfigid", "measurement", "host_data", "key"} {
		if _, ok := c.Measurements[n]; ok {
			names = append(names, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range c.Measurements {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	return append(names, rest...)
}

// printClaims writes verified claims as aligned "key: value" lines, each
// note (such as "collateral: not checked") on a line of its own.
func printClaims(w io.Writer, c *attest.Claims) {
	fmt.Fprintf(w, "platform:     %s\n", c.Platform)
	fmt.Fprintf(w, "debug:        %t\n", c.Debug)
	if c.TCB != "" {
		fmt.Fprintf(w, "tcb:          %s\n", c.TCB)
	}
	fmt.Fprintf(w, "report_data:  %s\n", c.ReportData)
	if !c.IssuedAt.IsZero() {
		fmt.Fprintf(w, "issued_at:    %s\n", c.IssuedAt.UTC().Format(time.RFC3339))
	}
	if !c.ValidUntil.IsZero() {
		fmt.Fprintf(w, "valid_until:  %s\n", c.ValidUntil.UTC().Format(time.RFC3339))
	}
	for _, name := range measurementOrder(c) {
		fmt.Fprintf(w, "%-13s %s\n", name+":", c.Measurements[name])
	}
	for _, n := range c.Notes {
		fmt.Fprintln(w, n)
	}
}

// claimsView is the JSON form of verified claims: attest.Claims plus its
// report data, which attest.Claims leaves out of JSON.
type claimsView struct {
	Verified bool `json:"verified"`
	*attest.Claims
	ReportData string `json:"report_data"`
}

func claimsJSON(c *attest.Claims) claimsView {
	return claimsView{Verified: true, Claims: c, ReportData: c.ReportData.String()}
}

// binarySHA256 returns the path and SHA-256 of the running executable.
func binarySHA256() (string, [32]byte, error) {
	var sum [32]byte
	exe, err := os.Executable()
	if err != nil {
		return "", sum, fmt.Errorf("find the running binary: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", sum, fmt.Errorf("hash the running binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", sum, fmt.Errorf("hash the running binary: %w", err)
	}
	h.Sum(sum[:0])
	return exe, sum, nil
}

// failer returns a function that prints "agentnode <cmd>: <message>" on
// stderr and returns exit status 1.
func failer(stderr io.Writer, cmd string) func(string, ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(stderr, "agentnode "+cmd+": "+format+"\n", a...)
		return 1
	}
}

func writeJSON(w io.Writer, fail func(string, ...any) int, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail("%v", err)
	}
	return 0
}

// Size caps of the files the attest, exec and receipt commands read.
const (
	// maxCertFile caps a PEM bundle or a certificate: a few KiB in practice.
	maxCertFile = 1 << 20
	// maxEvidenceFile caps a quote file: MaxQuoteSize bytes as hex, plus a
	// 0x prefix and surrounding whitespace.
	maxEvidenceFile = 2*attest.MaxQuoteSize + 1<<10
)

// readCapped reads at most max bytes of the file at path; a longer file is
// an error, not a truncated read.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("read %s: over %d bytes", path, max)
	}
	return b, nil
}

// readEvidenceFile reads a quote saved as raw bytes or as hex.
func readEvidenceFile(path string) ([]byte, error) {
	b, err := readCapped(path, maxEvidenceFile)
	if err != nil {
		return nil, fmt.Errorf("--quote: %w", err)
	}
	q, err := decodeEvidence(b)
	if err != nil {
		return nil, fmt.Errorf("--quote %s: %w", path, err)
	}
	return q, nil
}

// decodeEvidence returns the quote b holds: b itself when it is binary, or
// the decoded bytes when b is hex (optionally 0x-prefixed, surrounded by
// whitespace). A TDX quote starts with bytes 04 00 and an SEV-SNP report
// with 02..05 00, none of them hex digits, so the two cannot be confused.
func decodeEvidence(b []byte) ([]byte, error) {
	t := bytes.TrimSpace(b)
	if len(t) >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		t = t[2:]
	}
	if len(t) > 0 && isHex(t) {
		if len(t)%2 != 0 {
			return nil, fmt.Errorf("hex with an odd number of digits: %w", attest.ErrMalformedQuote)
		}
		if len(t)/2 > attest.MaxQuoteSize {
			return nil, fmt.Errorf("%d bytes: %w", len(t)/2, attest.ErrQuoteTooLarge)
		}
		q := make([]byte, len(t)/2)
		if _, err := hex.Decode(q, t); err != nil {
			return nil, fmt.Errorf("decode hex: %w: %v", attest.ErrMalformedQuote, err)
		}
		return q, nil
	}
	switch {
	case len(t) == 0:
		return nil, attest.ErrEmptyQuote
	case len(b) > attest.MaxQuoteSize:
		return nil, fmt.Errorf("%d bytes: %w", len(b), attest.ErrQuoteTooLarge)
	}
	return b, nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// parseReportData reads up to 64 bytes of hex (optionally 0x-prefixed),
// zero-padded on the right as TEE interfaces pad shorter input.
func parseReportData(s string) (attest.ReportData, error) {
	var rd attest.ReportData
	var b attest.HexBytes
	if err := b.UnmarshalText([]byte(s)); err != nil {
		return rd, err
	}
	if len(b) == 0 || len(b) > len(rd) {
		return rd, fmt.Errorf("%d bytes, want 1 to %d", len(b), len(rd))
	}
	copy(rd[:], b)
	return rd, nil
}

// loadPolicy reads the policy file at path, or returns the default policy
// when path is empty; allowSim additionally accepts the simulated TEE.
func loadPolicy(path string, allowSim bool) (*attest.Policy, error) {
	p := attest.DefaultPolicy()
	if path != "" {
		var err error
		if p, err = attest.LoadPolicy(path); err != nil {
			return nil, err
		}
	}
	if allowSim {
		p.AcceptSim = true
	}
	return p, nil
}

// trustRoots are the PEM trust anchors given with --roots, sorted by
// platform.
type trustRoots struct {
	tdx, snp []byte
}

// loadRoots reads --roots files. A file that is an AMD ASK+ARK bundle (the
// ARK named "ARK-<product line>") holds SEV-SNP roots; any other PEM
// certificates are TDX PCK root CAs.
func loadRoots(paths []string) (trustRoots, error) {
	var tr trustRoots
	for _, p := range paths {
		b, err := readCapped(p, maxCertFile)
		if err != nil {
			return tr, fmt.Errorf("--roots: %w", err)
		}
		if _, err := detect.ParseAMDRoots(b); err == nil {
			if tr.snp != nil {
				return tr, fmt.Errorf("--roots %s: a second AMD root bundle; give one", p)
			}
			tr.snp = b
			continue
		}
		if _, err := tdx.ParseRoots(b); err != nil {
			return tr, fmt.Errorf("--roots %s: neither an AMD ASK+ARK bundle nor PEM root certificates: %w", p, err)
		}
		tr.tdx = append(append(tr.tdx, b...), '\n')
	}
	return tr, nil
}

// forPlatform returns the roots for evidence of platform pl, nil if none
// were given.
func (tr trustRoots) forPlatform(pl attest.Platform) []byte {
	switch pl {
	case attest.PlatformTDX:
		return tr.tdx
	case attest.PlatformSNP:
		return tr.snp
	}
	return nil
}

// verifiers returns the evidence verifiers of every platform, with the
// given roots in place of the vendors' where set.
func (tr trustRoots) verifiers() (attest.Verifiers, error) {
	return detect.Verifiers(detect.VerifierConfig{TDXRoots: tr.tdx, SNPRoots: tr.snp})
}
