package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFuzzFuncsFollowsGoTestRules(t *testing.T) {
	got, err := FuzzFuncs("testdata/parse/decls.go")
	if err != nil {
		t.Fatal(err)
	}
	// Fuzz_b is a target: only a lowercase letter after "Fuzz" disqualifies.
	if want := []string{"FuzzA", "Fuzz", "Fuzz_b"}; !slices.Equal(got, want) {
		t.Fatalf("targets %v, want %v", got, want)
	}
	if _, err := FuzzFuncs("testdata/parse/missing.go"); err == nil {
		t.Fatal("a missing file parsed")
	}
}

func TestLastStatusAndCrasher(t *testing.T) {
	out := `fuzz: elapsed: 0s, gathering baseline coverage: 0/3 completed
fuzz: elapsed: 0s, gathering baseline coverage: 3/3 completed, now fuzzing with 1 workers
fuzz: elapsed: 3s, execs: 81234 (27077/sec), new interesting: 1 (total: 4)
fuzz: elapsed: 5s, execs: 130007 (24386/sec), new interesting: 1 (total: 4)
--- FAIL: FuzzX (5.02s)
    Failing input written to testdata/fuzz/FuzzX/771e938e4458e983
FAIL
`
	n, d, ok := LastStatus(out)
	if !ok || n != 130007 || d != 5*time.Second {
		t.Fatalf("LastStatus = %d %s %v", n, d, ok)
	}
	if c := Crasher(out); c != "testdata/fuzz/FuzzX/771e938e4458e983" {
		t.Fatalf("Crasher = %q", c)
	}
	if _, _, ok := LastStatus("PASS\nok  \tx\t0.1s\n"); ok {
		t.Fatal("status from output without one")
	}
	if Crasher("PASS") != "" {
		t.Fatal("crasher from a passing run")
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	WriteTable(&b, []Result{
		{Target: Target{Package: "p", Name: "FuzzA"}, Execs: 1000, Elapsed: 2 * time.Second},
		{Target: Target{Package: "p", Name: "FuzzB"}, Err: os.ErrClosed, Crasher: "testdata/fuzz/FuzzB/1"},
	})
	want := "| p | FuzzA | 1000 | 2s | 500 | ok |\n| p | FuzzB | 0 | 0s | - | FAIL: testdata/fuzz/FuzzB/1 |\n"
	if !strings.HasSuffix(b.String(), want) {
		t.Fatalf("table:\n%s", b.String())
	}
}

// TestRunFixtureModule finds and runs the two targets of a fixture module
// with the real go command: the sound one passes with executions counted,
// the broken one fails and the run says so.
func TestRunFixtureModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and fuzzes a module")
	}
	dir, err := filepath.Abs("testdata/mod")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// go list resolves the pattern in its working directory: run from the
	// fixture module.
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	targets, err := Find(ctx, "go", []string{"./..."})
	_ = os.Chdir(wd)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range targets {
		names = append(names, tg.Name)
	}
	if !slices.Equal(names, []string{"FuzzBroken", "FuzzReverse"}) {
		t.Fatalf("targets %v", names)
	}
	r := Runner{Go: "go", FuzzTime: time.Second, Workers: 1}
	good := r.Run(ctx, Filter(targets, regexp.MustCompile(`Reverse`))[0])
	if good.Err != nil || good.Execs == 0 || good.Elapsed == 0 {
		t.Fatalf("FuzzReverse: %+v\n%s", good, good.Tail)
	}
	bad := r.Run(ctx, Filter(targets, regexp.MustCompile(`Broken`))[0])
	if bad.Err == nil || !strings.Contains(bad.Tail, "broken on purpose") {
		t.Fatalf("FuzzBroken: %+v", bad)
	}
}

func TestIsDeadlineRace(t *testing.T) {
	race := "fuzz: elapsed: 20s, execs: 5 (0/sec)\n--- FAIL: FuzzAnalyze (20.30s)\n    context deadline exceeded\nFAIL\nexit status 1\n"
	if !IsDeadlineRace(race) {
		t.Fatal("the bare deadline failure was not recognised")
	}
	for _, out := range []string{
		"--- FAIL: FuzzX (1.00s)\n    x_test.go:3: wrong\nFAIL\n",
		"--- FAIL: FuzzX (20.30s)\n    context deadline exceeded\nFAIL\n    Failing input written to testdata/fuzz/FuzzX/1\n",
		"--- FAIL: FuzzX (20.30s)\n    context deadline exceeded\nFAIL\npanic: boom\n",
		"--- FAIL: FuzzX (20.30s)\n    fuzzing process hung or terminated unexpectedly: context deadline exceeded\nFAIL\n",
	} {
		if IsDeadlineRace(out) {
			t.Errorf("taken for the race: %q", out)
		}
	}
}

func TestLastBaseline(t *testing.T) {
	out := `fuzz: elapsed: 0s, gathering baseline coverage: 0/184 completed
fuzz: elapsed: 3s, gathering baseline coverage: 140/184 completed
PASS
`
	if done, total, ok := LastBaseline(out); !ok || done != 140 || total != 184 {
		t.Fatalf("LastBaseline = %d/%d %v, want 140/184", done, total, ok)
	}
	if _, _, ok := LastBaseline("PASS\n"); ok {
		t.Fatal("a baseline without a status line")
	}
}
