package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/run.md from the renderer")

func parseFixture(t *testing.T) *Results {
	t.Helper()
	b, err := os.ReadFile("testdata/run.txt")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Parse(bytes.NewReader(b), "run.txt", module)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestParseKeysAndUnits(t *testing.T) {
	rs := parseFixture(t)
	wantKeys := []string{
		"enclave/wasm:ExecHello",
		"enclave/wasm/meter:Meter/fib/native", "enclave/wasm/meter:Meter/fib/deadline", "enclave/wasm/meter:Meter/fib/metered",
		"node/bridge:BridgeExec", "node/bridge:BridgeExecPlain",
		"node:PaidExec/unpaid/clients=4", "node:PaidExec/paid/clients=4",
		"interop:TSStack/clients=4",
	}
	if got := rs.Keys(); !slices.Equal(got, wantKeys) {
		t.Errorf("keys\n got %q\nwant %q", got, wantKeys)
	}
	if got, want := rs.Units("node/bridge:BridgeExec"), []string{"ns/op", "execs/s"}; !slices.Equal(got, want) {
		t.Errorf("units %q, want %q (as printed, not benchfmt's sec/op)", got, want)
	}
	if len(rs.Syntax) != 1 || !strings.Contains(rs.Syntax[0], "run.txt") {
		t.Errorf("syntax errors %q, want the one bad result line", rs.Syntax)
	}
}

func TestStat(t *testing.T) {
	rs := parseFixture(t)
	st, ok := rs.Stat("enclave/wasm:ExecHello", "ns/op")
	if !ok {
		t.Fatal("no ExecHello")
	}
	if st.N != 6 || st.Median != 16500 {
		t.Errorf("n %d median %v, want 6 and 16500 (median of 14..19 µs)", st.N, st.Median)
	}
	if !(st.Lo <= st.Median && st.Median <= st.Hi) || st.Lo < 14000 || st.Hi > 19000 {
		t.Errorf("interval [%v, %v] does not hold the median within the sample", st.Lo, st.Hi)
	}
	if st.Range == "" {
		t.Error("no ± range")
	}
	if _, ok := rs.Stat("enclave/wasm:ExecHello", "execs/s"); ok {
		t.Error("a unit the benchmark never printed has a stat")
	}
	if _, ok := rs.Stat("nope:Nope", "ns/op"); ok {
		t.Error("a benchmark that did not run has a stat")
	}
}

func TestEvaluate(t *testing.T) {
	rs := parseFixture(t)
	rows := []Row{
		{Name: "hello", Key: "enclave/wasm:ExecHello", Unit: "ns/op", Targets: []Target{AtMost(20_000)}},
		{Name: "hello-strict", Key: "enclave/wasm:ExecHello", Unit: "ns/op", Targets: []Target{AtMost(10_000)}},
		{Name: "bridge-rate", Key: "node/bridge:BridgeExec", Unit: "execs/s", Targets: []Target{AtLeast(2_500)}},
		{Name: "bridge-ratio", Key: "node/bridge:BridgeExec", Unit: "ns/op", Baseline: "node/bridge:BridgeExecPlain", Targets: []Target{RatioAtMost(2)}},
		{Name: "meter-deadline", Key: "enclave/wasm/meter:Meter/fib/metered", Unit: "ns/op", Baseline: "enclave/wasm/meter:Meter/fib/deadline", Targets: []Target{RatioBelow(1)}},
		{Name: "meter-native", Key: "enclave/wasm/meter:Meter/fib/metered", Unit: "ns/op", Baseline: "enclave/wasm/meter:Meter/fib/native", Targets: []Target{RatioAtMost(2.5)}},
		{Name: "paid-ts", Key: "node:PaidExec/paid/clients=4", Unit: "req/s", Baseline: tsKey, Targets: []Target{RatioAtLeast(10)}},
		{Name: "paid-missing-base", Key: "node:PaidExec/paid/clients=4", Unit: "req/s", Baseline: "node:Nope", Targets: []Target{RatioAtLeast(1)}},
		{Name: "paid-fallback", Key: "node:PaidExec/paid/clients=4", Unit: "req/s", Baseline: "interop:Gone", Targets: []Target{RatioAtLeast(10)}},
		{Name: "missing", Key: "node:Search", Unit: "p50-ms", Targets: []Target{AtMost(50)}},
		{Name: "info", Key: "node:PaidExec/paid/clients=4", Unit: "settle-p50-ms"},
	}
	lines := Evaluate(rs, rows, map[string]Fallback{"interop:Gone": {Value: 37, Source: "notes"}})
	byName := map[string]Line{}
	for _, l := range lines {
		byName[l.Row.Name] = l
	}
	for _, tc := range []struct {
		name    string
		pass    bool
		verdict string // regexp
		ratio   float64
	}{
		{"hello", true, `^pass$`, 0},
		{"hello-strict", false, `^FAIL: 16\.5 µs/op > 10\.0 µs/op: 65% over$`, 0},
		{"bridge-rate", false, `^FAIL: 2,222 execs/s < 2,500 execs/s: 11% short$`, 0},
		{"bridge-ratio", false, `^FAIL: 4\.50x > 2\.00x: 125% over$`, 4.5},
		{"meter-deadline", true, `^pass$`, 0.375},
		{"meter-native", false, `^FAIL: 3\.00x > 2\.50x`, 3},
		{"paid-ts", false, `^FAIL: 6\.06x < 10\.0x: 39% short$`, 200.0 / 33},
		{"paid-missing-base", false, `^no baseline$`, 0},
		{"paid-fallback", false, `^FAIL: 5\.41x < 10\.0x`, 200.0 / 37},
		{"missing", false, `^no data$`, 0},
		{"info", true, `^$`, 0},
	} {
		l := byName[tc.name]
		if l.Pass != tc.pass || !regexp.MustCompile(tc.verdict).MatchString(l.Verdict) {
			t.Errorf("%s: pass %v verdict %q, want %v %s", tc.name, l.Pass, l.Verdict, tc.pass, tc.verdict)
		}
		if tc.ratio != 0 && (l.Ratio < tc.ratio*0.999 || l.Ratio > tc.ratio*1.001) {
			t.Errorf("%s: ratio %v, want %v", tc.name, l.Ratio, tc.ratio)
		}
	}
	if l := byName["paid-fallback"]; l.BaseNote != "notes" {
		t.Errorf("fallback baseline note %q", l.BaseNote)
	}
}

func TestTargetShaky(t *testing.T) {
	// A median that meets the bound with an interval that crosses it.
	rs := newResults()
	rs.Merge(mustParse(t, "pkg: "+module+"/x\nBenchmarkA 1 90 ns/op\nBenchmarkA 1 95 ns/op\nBenchmarkA 1 98 ns/op\n"+
		"BenchmarkA 1 99 ns/op\nBenchmarkA 1 105 ns/op\nBenchmarkA 1 110 ns/op\n"))
	l := Evaluate(rs, []Row{{Key: "x:A", Unit: "ns/op", Targets: []Target{AtMost(100)}}}, nil)[0]
	if !l.Pass || !l.Shaky {
		t.Errorf("pass %v shaky %v (median %v in [%v, %v]), want a shaky pass", l.Pass, l.Shaky, l.Stat.Median, l.Stat.Lo, l.Stat.Hi)
	}
}

func mustParse(t *testing.T, s string) *Results {
	t.Helper()
	rs, err := Parse(strings.NewReader(s), "input", module)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestParseCap(t *testing.T) {
	line := "BenchmarkA-2 1 10 ns/op\n"
	big := strings.Repeat(line, maxInput/len(line)+2)
	if _, err := Parse(strings.NewReader(big), "big", module); !errors.Is(err, errTooLarge) {
		t.Fatalf("err %v, want errTooLarge", err)
	}
}

// TestRenderGolden renders the fixture with the plan's rows and compares
// it with testdata/run.md (go test -update rewrites it).
func TestRenderGolden(t *testing.T) {
	rs := parseFixture(t)
	env := Env{Date: time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC), GoVersion: "go1.26.8 linux/amd64", CPU: "AMD EPYC", Cores: 2,
		LoadStart: "1.00 / 2.00 / 3.00", LoadEnd: "1.50 / 2.00 / 3.00", Commit: "abc1234", Took: 11 * time.Minute,
		TS: "measured", Problems: []string{"run ./x: exit status 1"}}
	var buf bytes.Buffer
	Render(&buf, env, Evaluate(rs, rows, map[string]Fallback{tsKey: {Value: tsNotesRate, Source: "notes"}}), rs)
	golden := filepath.Join("testdata", "run.md")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("render differs from %s (go test -update to accept):\n%s", golden, buf.String())
	}
	for _, s := range []string{"over the 10m0s budget", "| ExecHello: warm instantiate + run + close", "no data", "run ./x: exit status 1"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("report lacks %q", s)
		}
	}
}

func TestPlanIsConsistent(t *testing.T) {
	// Every checked row names a benchmark of a package the plan runs, with
	// at least 6 runs when it carries a target.
	counts := map[string]int{}
	for _, s := range suites {
		p := strings.TrimPrefix(s.Pkg, "./")
		counts[p] = max(counts[p], s.Count)
		if _, err := regexp.Compile(s.Bench); err != nil {
			t.Errorf("suite %s: -bench %q: %v", s.Pkg, s.Bench, err)
		}
	}
	for _, r := range rows {
		for _, k := range []string{r.Key, r.Baseline} {
			if k == "" || k == tsKey {
				continue
			}
			pkg, _, ok := strings.Cut(k, ":")
			if !ok {
				t.Errorf("row %q: key %q has no package", r.Name, k)
				continue
			}
			n, ran := counts[pkg]
			if !ran {
				t.Errorf("row %q: package %s is not in the plan", r.Name, pkg)
			}
			if len(r.Targets) > 0 && n < 6 {
				t.Errorf("row %q: %s runs %d times; a target needs 6", r.Name, pkg, n)
			}
		}
	}
}

func TestParseTS(t *testing.T) {
	r, err := parseTS([]byte("warming up\n{\"clients\":4,\"requests\":200,\"facilitator\":\"typescript\",\"reqPerSec\":31.5,\"p50Ms\":120,\"p99Ms\":180}\n"))
	if err != nil || r.ReqPerSec != 31.5 || r.Clients != 4 {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{"", "{}", "not json", `{"clients":4,"requests":200,"reqPerSec":0}`} {
		if _, err := parseTS([]byte(bad)); err == nil {
			t.Errorf("parseTS(%q) accepted", bad)
		}
	}
}

func TestScale(t *testing.T) {
	for _, tc := range []struct {
		v          float64
		unit, want string
	}{
		{12, "ns/op", "12.0 ns/op"}, {16500, "ns/op", "16.5 µs/op"}, {4.2e6, "ns/op", "4.20 ms/op"},
		{2.5e9, "ns/op", "2.50 s/op"}, {2311.4, "execs/s", "2,311 execs/s"}, {0.5, "x", "0.5 x"}, {0, "req/s", "0 req/s"},
	} {
		v, u := scale(tc.v, tc.unit)
		if got := v + " " + u; got != tc.want {
			t.Errorf("scale(%v, %s) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

// FuzzParse: any input either parses or fails with an error, and every
// key it yields has a summary.
func FuzzParse(f *testing.F) {
	b, err := os.ReadFile("testdata/run.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("BenchmarkX-2 1 NaN ns/op\n"))
	f.Add([]byte("pkg: \nBenchmark 0 1 ns/op 2 x/y\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rs, err := Parse(bytes.NewReader(in), "fuzz", module)
		if err != nil {
			return
		}
		for _, k := range rs.Keys() {
			for _, u := range rs.Units(k) {
				if _, ok := rs.Stat(k, u); !ok {
					t.Fatalf("%s %s listed without values", k, u)
				}
			}
		}
		var buf bytes.Buffer
		Render(&buf, Env{}, Evaluate(rs, rows, nil), rs)
	})
}
