// Command benchtable is `make bench`: it runs the project's benchmarks
// from one declared plan (plan.go: which benchmarks, with which
// -benchtime and -count, compared with which baseline measured in the same
// run, against which target of the issues) and prints one table — name,
// median, ± (benchstat's confidence interval), unit, ratio to the
// baseline, target, pass or fail with the measured gap — followed by every
// other result. The table goes to stdout and, with the date, Go version,
// CPU and load average, to bench/latest.md; the raw go test output to
// bench/latest.txt, for benchstat comparisons.
//
// The baseline of paid execution is the official TypeScript x402 stack,
// measured in the same run by interop/bench-ts.mjs when node and
// interop/node_modules are present, else the figure of the notes.
//
// Usage:
//
//	go run ./internal/benchtable [-out bench/latest.md] [-raw bench/latest.txt]
//	    [-run REGEXP] [-count N] [-ts=false] [-from FILE]
//
// -from renders the table from saved output without running anything.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

// module is the module path, stripped from package names in keys.
const module = "github.com/agentnet/agentnode"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "bench/latest.md", "where the report is written (empty: stdout only)")
	raw := fs.String("raw", "bench/latest.txt", "where the raw go test output is written (empty: nowhere)")
	from := fs.String("from", "", "render the report from this saved go test output instead of running")
	match := fs.String("run", "", "run only the suites whose package matches this regular expression")
	count := fs.Int("count", 0, "override every suite's -count (0: the plan's)")
	ts := fs.Bool("ts", true, "measure the official TypeScript x402 stack (needs node and interop/node_modules)")
	tsRuns := fs.Int("ts-runs", 3, "repetitions of the TypeScript stack's measurement")
	goCmd := fs.String("go", "go", "the go command")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "benchtable: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var re *regexp.Regexp
	if *match != "" {
		var err error
		if re, err = regexp.Compile(*match); err != nil {
			fmt.Fprintf(stderr, "benchtable: -run: %v\n", err)
			return 2
		}
	}
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "benchtable: %v\n", err)
		return 1
	}

	env := machine(ctx, *goCmd, root)
	env.Date = time.Now()
	env.LoadStart = loadAverage()
	var rawOut []byte
	if *from != "" {
		if rawOut, err = os.ReadFile(*from); err != nil {
			fmt.Fprintf(stderr, "benchtable: %v\n", err)
			return 1
		}
		env.TS = "from " + *from
		env.LoadStart, env.Date = "not recorded", fileTime(*from)
	} else {
		start := time.Now()
		rawOut, env.TS, env.Timings, env.Problems = measure(ctx, root, *goCmd, selectSuites(re, *count), *ts, *tsRuns, stderr)
		env.Took = time.Since(start)
		if *raw != "" {
			if err := writeFile(*raw, rawOut); err != nil {
				fmt.Fprintf(stderr, "benchtable: %v\n", err)
				return 1
			}
		}
	}
	env.LoadEnd = loadAverage()
	if *from != "" {
		env.LoadEnd = "not recorded"
	}
	rs, err := Parse(bytes.NewReader(rawOut), "benchmarks", module)
	if err != nil {
		fmt.Fprintf(stderr, "benchtable: %v\n", err)
		return 1
	}
	fallbacks := map[string]Fallback{tsKey: {Value: tsNotesRate, Source: "notes §14, not measured in this run"}}
	lines := Evaluate(rs, rows, fallbacks)
	var report bytes.Buffer
	Render(&report, env, lines, rs)
	stdout.Write(report.Bytes())
	if *out != "" {
		if err := writeFile(*out, report.Bytes()); err != nil {
			fmt.Fprintf(stderr, "benchtable: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "benchtable: wrote %s\n", *out)
	}
	if len(env.Problems) > 0 {
		return 1
	}
	return 0
}

// selectSuites applies -run and -count to the plan.
func selectSuites(re *regexp.Regexp, count int) []Suite {
	var out []Suite
	for _, s := range suites {
		if re != nil && !re.MatchString(s.Pkg) {
			continue
		}
		if count > 0 {
			s.Count = count
		}
		out = append(out, s)
	}
	return out
}

// measure builds and runs the suites and, where the plan says, the
// TypeScript stack. It returns the raw output, how the TS baseline was
// obtained, each suite's run time, and the problems met (a failed suite
// does not stop the rest).
func measure(ctx context.Context, root, goCmd string, plan []Suite, ts bool, tsRuns int, log io.Writer) ([]byte, string, []Timing, []string) {
	var (
		problems []string
		timings  []Timing
	)
	bin, err := os.MkdirTemp("", "benchtable-")
	if err != nil {
		return nil, "", nil, []string{err.Error()}
	}
	defer os.RemoveAll(bin)
	var raw bytes.Buffer
	r := Runner{Go: goCmd, Root: root, Bin: bin, Raw: &raw, Log: log}
	if err := r.Build(ctx, plan); err != nil {
		return nil, "", nil, []string{err.Error()}
	}
	tsNote := "not measured (no suite of this run needs it)"
	for _, s := range plan {
		if ctx.Err() != nil {
			problems = append(problems, "interrupted")
			break
		}
		if s.TS {
			start := time.Now()
			tsNote = measureTS(ctx, TSStack{Go: goCmd, Root: root, Bin: bin, Runs: tsRuns, Requests: 200, Log: log}, ts, &raw, &problems)
			timings = append(timings, Timing{Suite: Suite{Pkg: "interop/bench-ts.mjs", Bench: "official TypeScript x402 stack", Count: tsRuns}, Took: time.Since(start)})
		}
		start := time.Now()
		if err := r.Run(ctx, s); err != nil {
			problems = append(problems, err.Error())
		}
		timings = append(timings, Timing{Suite: s, Took: time.Since(start)})
	}
	return raw.Bytes(), tsNote, timings, problems
}

// measureTS runs the TypeScript stack into raw and says what happened.
func measureTS(ctx context.Context, t TSStack, enabled bool, raw *bytes.Buffer, problems *[]string) string {
	if !enabled {
		return "not measured (-ts=false); the notes' figure is used"
	}
	fmt.Fprintf(t.Log, "benchtable: official TypeScript x402 stack, %d clients, %d x %d paid requests\n", tsClients, t.Runs, t.Requests)
	out, err := t.Measure(ctx, module)
	raw.Write(out)
	switch {
	case errors.Is(err, errNoNode):
		return "not measured (" + err.Error() + "); the notes' figure is used"
	case err != nil:
		*problems = append(*problems, "TypeScript stack: "+err.Error())
		return "measurement failed; see the summary"
	}
	return fmt.Sprintf("measured in this run: interop/bench-ts.mjs, official x402 packages (@x402/express, @x402/fetch, TS facilitator), %d clients, %d runs of %d paid requests", tsClients, t.Runs, t.Requests)
}

// writeFile writes b to path, creating its directory.
func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// fileTime is a file's modification time (now if it has none).
func fileTime(path string) time.Time {
	if fi, err := os.Stat(path); err == nil {
		return fi.ModTime()
	}
	return time.Now()
}
