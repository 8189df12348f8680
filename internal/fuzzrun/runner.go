package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Runner runs fuzz targets with go test.
type Runner struct {
	// Go is the go command.
	Go string
	// FuzzTime is how long each target fuzzes (go test -fuzztime).
	FuzzTime time.Duration
	// Workers is go test -parallel: fuzzing processes per target.
	Workers int
	// MinimizeTime bounds the minimization of each new input (go test
	// -fuzzminimizetime); zero keeps go test's default (60 s), which can
	// spend most of a short run minimizing corpus entries of a slow target.
	MinimizeTime time.Duration
	// Log, when set, receives go test's output as it comes.
	Log io.Writer
}

// Result is what one target's run gave.
type Result struct {
	Target Target
	// Execs is the executions go test last reported, over Elapsed.
	Execs   int64
	Elapsed time.Duration
	// Crasher is the failing input go test wrote, relative to the
	// package directory, when the target failed on an input.
	Crasher string
	// Err is nil when the target ran for its time without failing.
	Err error
	// DeadlineRace is set when go test failed with nothing but "context
	// deadline exceeded" at the end of the fuzz time and wrote no failing
	// input: the coordinator race of go.dev/issue/75804 (fixed in Go
	// 1.27), not a finding. Err is nil then.
	DeadlineRace bool
	// BaselineDone and BaselineTotal are set when the fuzz time ended
	// while go test still replayed the corpus (its own seeds and what
	// earlier runs cached) and it passed: every input replayed ran
	// without failing, but no new input was tried. Short CI runs of slow
	// targets with a large cached corpus end so. Err is nil then.
	BaselineDone, BaselineTotal int
	// Tail is the end of go test's output, kept for a failure report.
	Tail string
}

// compileSlack bounds the time a run may take beyond its fuzz time:
// building the instrumented test binary and the baseline of the corpus.
const compileSlack = 10 * time.Minute

// Run fuzzes one target in its package directory.
func (r Runner) Run(ctx context.Context, t Target) Result {
	ctx, cancel := context.WithTimeout(ctx, r.FuzzTime+compileSlack)
	defer cancel()
	args := []string{"test", "-run", "^$", "-fuzz", "^" + t.Name + "$",
		"-fuzztime", r.FuzzTime.String(), "-parallel", strconv.Itoa(r.Workers),
		"-timeout", (r.FuzzTime + compileSlack).String()}
	if r.MinimizeTime > 0 {
		args = append(args, "-fuzzminimizetime", r.MinimizeTime.String())
	}
	args = append(args, ".")
	cmd := exec.CommandContext(ctx, r.Go, args...)
	cmd.Dir = t.Dir
	var out bytes.Buffer
	var w io.Writer = &out
	if r.Log != nil {
		w = io.MultiWriter(&out, r.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	res := Result{Target: t}
	res.Execs, res.Elapsed, _ = LastStatus(out.String())
	res.Crasher = Crasher(out.String())
	res.Tail = tail(out.String(), 40)
	switch {
	case ctx.Err() != nil:
		res.Err = fmt.Errorf("go test %s: %w", t, ctx.Err())
	case err != nil && res.Crasher == "" && IsDeadlineRace(out.String()):
		res.DeadlineRace = true
	case err != nil:
		res.Err = fmt.Errorf("go test %s: %w", t, err)
	case res.Execs == 0:
		done, total, ok := LastBaseline(out.String())
		if !ok || done == 0 {
			res.Err = errors.New("go test reported no executions")
			break
		}
		res.BaselineDone, res.BaselineTotal = done, total
	}
	return res
}

// baselineLine matches go test's status while it replays the corpus, e.g.
// "fuzz: elapsed: 3s, gathering baseline coverage: 140/184 completed".
var baselineLine = regexp.MustCompile(`(?m)^fuzz: elapsed: \S+, gathering baseline coverage: (\d+)/(\d+) completed`)

// LastBaseline returns the corpus entries replayed, of all, by the last
// baseline status line of go test's fuzzing output.
func LastBaseline(out string) (done, total int, ok bool) {
	m := baselineLine.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return 0, 0, false
	}
	last := m[len(m)-1]
	done, err1 := strconv.Atoi(last[1])
	total, err2 := strconv.Atoi(last[2])
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return done, total, true
}

// statusLine matches go test's fuzzing status lines, e.g.
// "fuzz: elapsed: 30s, execs: 1203711 (40121/sec), new interesting: 2 (total: 14)".
var statusLine = regexp.MustCompile(`(?m)^fuzz: elapsed: (\S+), execs: (\d+) \(`)

// LastStatus returns the executions and elapsed time of the last status
// line of go test's fuzzing output.
func LastStatus(out string) (execs int64, elapsed time.Duration, ok bool) {
	m := statusLine.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return 0, 0, false
	}
	last := m[len(m)-1]
	d, err := time.ParseDuration(last[1])
	if err != nil {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(last[2], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return n, d, true
}

// deadlineRace matches the whole failure report of the coordinator race
// of go.dev/issue/75804: the target fails with the bare error of the
// fuzz time's context and nothing else.
var deadlineRace = regexp.MustCompile(`(?m)^--- FAIL: Fuzz\w* \([0-9.]+s\)\n\s+context deadline exceeded\n(FAIL|exit status)`)

// IsDeadlineRace reports whether go test's output is the coordinator
// race's failure and nothing else: no failing input, no panic, no
// message of the target.
func IsDeadlineRace(out string) bool {
	return deadlineRace.MatchString(out) && !strings.Contains(out, "Failing input written") && !strings.Contains(out, "panic:")
}

// crasherLine matches "Failing input written to testdata/fuzz/FuzzX/abc".
var crasherLine = regexp.MustCompile(`Failing input written to (\S+)`)

// Crasher returns the path of the failing input go test wrote, or "".
func Crasher(out string) string {
	if m := crasherLine.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// WriteTable writes the results as a Markdown table.
func WriteTable(w io.Writer, results []Result) {
	fmt.Fprintln(w, "| package | target | execs | time | execs/s | result |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|")
	for _, r := range results {
		rate := "-"
		if r.Elapsed > 0 {
			rate = strconv.FormatInt(int64(float64(r.Execs)/r.Elapsed.Seconds()), 10)
		}
		status := "ok"
		switch {
		case r.DeadlineRace:
			status = "ok (stopped by go.dev/issue/75804)"
		case r.BaselineTotal > 0:
			status = fmt.Sprintf("ok (corpus replay only: %d of %d entries in the time)", r.BaselineDone, r.BaselineTotal)
		case r.Crasher != "":
			status = "FAIL: " + r.Crasher
		case r.Err != nil:
			status = "FAIL: " + firstLine(r.Err.Error())
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s |\n", r.Target.Package, r.Target.Name, r.Execs, r.Elapsed, rate, status)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "|", `\|`)
}
