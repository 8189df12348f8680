package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// suiteTimeout bounds one suite's run (go test's -timeout); a suite that
// hangs fails alone.
const suiteTimeout = 10 * time.Minute

// Runner builds test binaries and runs the plan's suites.
type Runner struct {
	// Go is the go command; Root the module's root directory.
	Go, Root string
	// Bin is where test binaries are built.
	Bin string
	// Raw receives the benchmark output of every suite, as go test prints
	// it; Log the progress and every line as it comes.
	Raw, Log io.Writer
}

// binaryName is the test binary of pkg inside r.Bin.
func (r Runner) binaryName(pkg string) string {
	name := strings.Trim(strings.ReplaceAll(filepath.ToSlash(pkg), "/", "_"), "._")
	if name == "" {
		name = "root"
	}
	return filepath.Join(r.Bin, name+".test")
}

// Build compiles the test binary of every package of the suites, before
// anything is measured, so that compilation does not load the machine
// during a measurement.
func (r Runner) Build(ctx context.Context, suites []Suite) error {
	seen := map[string]bool{}
	for _, s := range suites {
		if seen[s.Pkg] {
			continue
		}
		seen[s.Pkg] = true
		fmt.Fprintf(r.Log, "benchtable: build %s\n", s.Pkg)
		cmd := exec.CommandContext(ctx, r.Go, "test", "-c", "-o", r.binaryName(s.Pkg), s.Pkg)
		cmd.Dir = r.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w\n%s", s.Pkg, err, out)
		}
	}
	return nil
}

// Run runs one suite in its package directory, streaming its output to
// Raw and Log. A failing suite returns an error; what it printed before
// failing stays in Raw.
func (r Runner) Run(ctx context.Context, s Suite) error {
	ctx, cancel := context.WithTimeout(ctx, suiteTimeout+time.Minute)
	defer cancel()
	count := max(s.Count, 1)
	args := []string{"-test.run", "^$", "-test.bench", s.Bench, "-test.benchmem",
		"-test.count", strconv.Itoa(count), "-test.timeout", suiteTimeout.String()}
	if s.Benchtime != "" {
		args = append(args, "-test.benchtime", s.Benchtime)
	}
	fmt.Fprintf(r.Log, "benchtable: %s -bench %s -benchtime %s -count %d\n", s.Pkg, s.Bench, s.Benchtime, count)
	cmd := exec.CommandContext(ctx, r.binaryName(s.Pkg), args...)
	cmd.Dir = filepath.Join(r.Root, filepath.FromSlash(s.Pkg))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("run %s: %w", s.Pkg, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", s.Pkg, err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var tail []string
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(r.Raw, line)
		fmt.Fprintln(r.Log, line)
		tail = append(tail, line)
		if len(tail) > 20 {
			tail = tail[1:]
		}
	}
	if err := cmd.Wait(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.Join(tail, "\n")
		}
		return fmt.Errorf("run %s -bench %s: %w: %s", s.Pkg, s.Bench, err, lastLines(msg, 5))
	}
	return nil
}

// lastLines keeps the last n lines of s, joined by " / ".
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// machine fills the Env fields that describe the machine and the tree.
func machine(ctx context.Context, goCmd, root string) Env {
	env := Env{Cores: runtime.NumCPU(), CPU: cpuModel(), GoVersion: runtime.Version()}
	if out, err := command(ctx, root, goCmd, "env", "GOVERSION"); err == nil && out != "" {
		env.GoVersion = out
	}
	env.GoVersion += " " + runtime.GOOS + "/" + runtime.GOARCH
	if out, err := command(ctx, root, "git", "rev-parse", "--short", "HEAD"); err == nil {
		env.Commit = out
		// The results of an earlier run (bench/) are not the code measured.
		if st, err := command(ctx, root, "git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench"); err == nil && st != "" {
			env.Commit += " with uncommitted changes"
		}
	}
	return env
}

// command runs a short command and returns its trimmed output.
func command(ctx context.Context, dir, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// cpuModel is the first "model name" of /proc/cpuinfo ("unknown" where
// there is none).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAverage is /proc/loadavg's three averages ("unknown" where there is
// none).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " / ")
}
