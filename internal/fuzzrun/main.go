// Command fuzzrun runs every native Go fuzz target of the module, one after
// the other, each for a fixed time, and prints a Markdown table of the
// targets with their executions: `make fuzz FUZZTIME=30s` and CI's short
// pass are this command. A target that fails stops nothing; the command
// exits 1 at the end, and go test leaves the failing input under the
// package's testdata/fuzz/<Target>/, where it becomes a seed.
//
// Targets are found from the source: the test files `go list` selects for
// this platform, parsed for `func FuzzXxx(*testing.F)`. That is what
// `go test -list '^Fuzz'` reports, without building every test binary
// first.
//
// Usage:
//
//	go run ./internal/fuzzrun [-fuzztime 30s] [-run REGEXP] [-workers 1] [-list] [packages]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fuzzrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fuzztime := fs.Duration("fuzztime", 30*time.Second, "how long each target runs")
	match := fs.String("run", "", "only targets whose package/Name matches this regular expression")
	workers := fs.Int("workers", 1, "fuzzing workers per target (go test -parallel)")
	minimize := fs.Duration("minimizetime", 5*time.Second, "bound of each input's minimization (go test -fuzzminimizetime; 0: go test's 60s)")
	list := fs.Bool("list", false, "list the targets and stop")
	goCmd := fs.String("go", "go", "the go command")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *fuzztime <= 0 || *workers <= 0 {
		fmt.Fprintln(stderr, "fuzzrun: -fuzztime and -workers must be positive")
		return 2
	}
	var re *regexp.Regexp
	if *match != "" {
		var err error
		if re, err = regexp.Compile(*match); err != nil {
			fmt.Fprintf(stderr, "fuzzrun: -run: %v\n", err)
			return 2
		}
	}
	patterns := fs.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	targets, err := Find(ctx, *goCmd, patterns)
	if err != nil {
		fmt.Fprintf(stderr, "fuzzrun: %v\n", err)
		return 1
	}
	targets = Filter(targets, re)
	if *list {
		for _, t := range targets {
			fmt.Fprintln(stdout, t)
		}
		return 0
	}
	if len(targets) == 0 {
		fmt.Fprintln(stderr, "fuzzrun: no fuzz targets")
		return 1
	}
	r := Runner{Go: *goCmd, FuzzTime: *fuzztime, Workers: *workers, MinimizeTime: *minimize, Log: stderr}
	results := make([]Result, 0, len(targets))
	failed := 0
	for i, t := range targets {
		fmt.Fprintf(stderr, "[%d/%d] %s for %s\n", i+1, len(targets), t, *fuzztime)
		res := r.Run(ctx, t)
		results = append(results, res)
		switch {
		case res.Err != nil:
			failed++
			fmt.Fprintf(stderr, "FAIL %s: %v\n%s\n", t, res.Err, res.Tail)
		case res.DeadlineRace:
			fmt.Fprintf(stderr, "ok   %s: %d execs in %s (go test's deadline race at the end, go.dev/issue/75804: no finding)\n", t, res.Execs, res.Elapsed)
		case res.BaselineTotal > 0:
			fmt.Fprintf(stderr, "ok   %s: replayed %d of %d corpus entries in %s, no new input (give it a longer -fuzztime)\n",
				t, res.BaselineDone, res.BaselineTotal, *fuzztime)
		default:
			fmt.Fprintf(stderr, "ok   %s: %d execs in %s\n", t, res.Execs, res.Elapsed)
		}
		if ctx.Err() != nil {
			break
		}
	}
	WriteTable(stdout, results)
	if failed > 0 || ctx.Err() != nil {
		fmt.Fprintf(stderr, "fuzzrun: %d of %d targets failed\n", failed, len(results))
		return 1
	}
	return 0
}
