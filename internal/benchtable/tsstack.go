package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TS stack measurement settings: the chain's clock may lead by 6 h and
// payments are asked for a 7 h window, as BenchmarkPaidExec does, so that
// neither the chain's clock nor expiring payments throttle the run.
const (
	tsClients  = 4
	tsMaxLead  = 6 * time.Hour
	tsWindow   = 7 * time.Hour
	tsReady    = 90 * time.Second // chain start-up: dev.json written
	tsRunLimit = 3 * time.Minute  // one bench-ts.mjs run
	// maxTSOutput caps what is read of one bench-ts.mjs run.
	maxTSOutput = 1 << 20
)

// errNoNode is returned when node or interop/node_modules is missing.
var errNoNode = errors.New("node or interop/node_modules missing (npm ci --prefix interop)")

// TSStack measures the official TypeScript x402 stack with
// interop/bench-ts.mjs: an @x402/express route paid by @x402/fetch
// clients, settled by the official TypeScript facilitator, on an embedded
// chain of its own (`agentnode chain`), at tsClients concurrent clients.
type TSStack struct {
	Go, Root, Bin string
	// Runs and Requests: repetitions, and paid requests per repetition.
	Runs, Requests int
	Log            io.Writer
}

// tsResult is the JSON line bench-ts.mjs prints.
type tsResult struct {
	Clients   int     `json:"clients"`
	Requests  int     `json:"requests"`
	ReqPerSec float64 `json:"reqPerSec"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
}

// Measure runs the stack and returns its results in the benchmark format
// (package interop, BenchmarkTSStack/clients=4), one line per run.
func (t TSStack) Measure(ctx context.Context, module string) ([]byte, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return nil, errNoNode
	}
	if _, err := os.Stat(filepath.Join(t.Root, "interop", "node_modules")); err != nil {
		return nil, errNoNode
	}
	bin := filepath.Join(t.Bin, "agentnode")
	build := exec.CommandContext(ctx, t.Go, "build", "-o", bin, "./cmd/agentnode")
	build.Dir = t.Root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build agentnode: %w\n%s", err, out)
	}
	dir, err := os.MkdirTemp(t.Bin, "ts-chain-")
	if err != nil {
		return nil, fmt.Errorf("measure TS stack: %w", err)
	}
	stop, err := t.startChain(ctx, bin, dir)
	if err != nil {
		return nil, err
	}
	defer stop()

	var out bytes.Buffer
	fmt.Fprintf(&out, "pkg: %s/interop\n", module)
	for i := range t.Runs {
		r, err := t.runOnce(ctx, dir)
		if err != nil {
			return out.Bytes(), fmt.Errorf("bench-ts.mjs run %d: %w", i+1, err)
		}
		line := fmt.Sprintf("BenchmarkTSStack/clients=%d \t%d\t%.0f ns/op\t%.2f req/s\t%.2f p50-ms\t%.2f p99-ms\n",
			r.Clients, r.Requests, 1e9/r.ReqPerSec, r.ReqPerSec, r.P50Ms, r.P99Ms)
		fmt.Fprint(t.Log, line)
		out.WriteString(line)
	}
	return out.Bytes(), nil
}

// startChain starts `agentnode chain` writing dev.json and gas.key into
// dir, and returns a function that stops it.
func (t TSStack) startChain(ctx context.Context, bin, dir string) (func(), error) {
	cmd := exec.Command(bin, "chain", "--rpc", "127.0.0.1:0", "--max-lead", tsMaxLead.String(), "--dir", dir, "--log-level", "error")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start agentnode chain: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(tsReady)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "dev.json")); err == nil {
			var dev struct {
				RPCURL string `json:"rpc_url"`
			}
			if json.Unmarshal(b, &dev) == nil && dev.RPCURL != "" {
				return stop, nil
			}
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("agentnode chain exited: %v: %s", err, lastLines(logs.String(), 3))
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("agentnode chain: no dev.json after %s", tsReady)
		}
	}
}

// runOnce runs bench-ts.mjs once with the official TS facilitator.
func (t TSStack) runOnce(ctx context.Context, dir string) (tsResult, error) {
	ctx, cancel := context.WithTimeout(ctx, tsRunLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "bench-ts.mjs")
	cmd.Dir = filepath.Join(t.Root, "interop")
	cmd.Env = append(os.Environ(),
		"AGENTNODE_DEV_JSON="+filepath.Join(dir, "dev.json"),
		"GAS_KEY_FILE="+filepath.Join(dir, "gas.key"),
		"CLIENTS="+strconv.Itoa(tsClients),
		"REQUESTS="+strconv.Itoa(t.Requests),
		"MAX_TIMEOUT="+strconv.Itoa(int(tsWindow.Seconds())))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limitWriter{w: &stdout, n: maxTSOutput}, &limitWriter{w: &stderr, n: maxTSOutput}
	if err := cmd.Run(); err != nil {
		return tsResult{}, fmt.Errorf("%w: %s", err, lastLines(stderr.String(), 3))
	}
	return parseTS(stdout.Bytes())
}

// parseTS reads the last JSON line of bench-ts.mjs's output.
func parseTS(out []byte) (tsResult, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var r tsResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return tsResult{}, fmt.Errorf("read bench-ts.mjs result: %w", err)
	}
	if r.ReqPerSec <= 0 || r.Requests <= 0 || r.Clients <= 0 {
		return tsResult{}, fmt.Errorf("read bench-ts.mjs result: no rate in %q", lines[len(lines)-1])
	}
	return r, nil
}

// limitWriter keeps the first n bytes written and drops the rest.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	k := min(len(p), l.n)
	if k > 0 {
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		l.n -= k
	}
	return len(p), nil
}
