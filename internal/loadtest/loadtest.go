// Package loadtest drives a bounded, self-stopping load at agentnode on
// loopback and reports what it saw: throughput, latency percentiles
// (p50, p99, p99.9), errors by kind, and the process's heap, resident
// memory and goroutines before and after (after the load stopped, a
// garbage collection and a settle period), which is how a leak shows.
//
// A run targets either one node (the embedded chain and a node in this
// process, charging for module runs and serving a free deployed agent)
// or a testnet (package testnet: N nodes and the chain in this process,
// the demo agents priced). Each kind of operation ([Kind]) has its own
// workers; every worker is a client of its own (its own session) and
// stops at the deadline. `make load` runs the command in cmd/load, which
// writes bench/load.md.
//
// Overload is a run with more clients than the node takes executions
// (max_inflight_executions): the node must shed the excess with 503 and
// Retry-After, fast, and nothing else; [Report.Check] says whether a run
// saw only the errors its configuration expects.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/agentnet/agentnode/testnet"
)

// Kind is a kind of operation.
type Kind string

// The kinds of operation.
const (
	// Exec is an encrypted execution without payment: sealed request,
	// attested session, verified result (a free agent on the single
	// node, a module on a testnet node, whose module runs are free).
	Exec Kind = "exec"
	// Paid is an encrypted execution paid with x402 on the embedded chain
	// (a module run on the single node, a priced demo agent on the
	// testnet), settled before the result is released.
	Paid Kind = "paid"
	// Search is POST /search.
	Search Kind = "search"
	// Call is a paid remote call through another node's bridge (POST
	// /v1/agents/{peer}/{name}/call): libp2p session and exec streams,
	// the calling node's payer. Testnet only.
	Call Kind = "call"
)

// Defaults of Config.
const (
	DefaultDuration    = 60 * time.Second
	DefaultClients     = 4
	DefaultSettle      = 5 * time.Second
	DefaultMaxInflight = 64
	// DefaultPrice is what a paid operation costs on the single node, in
	// the dev token's atomic units.
	DefaultPrice = 10000
	// opTimeout bounds one operation: past it the operation counts as a
	// timeout, which a healthy node never produces.
	opTimeout = 30 * time.Second
)

// Config configures a run. The zero value runs every kind on one node for
// DefaultDuration.
type Config struct {
	// Duration is how long the workers run. Default DefaultDuration.
	Duration time.Duration
	// Nodes is 1 (one node and the chain) or more (a testnet of that
	// many nodes). Default 1.
	Nodes int
	// Clients is the number of workers of each kind. Default
	// DefaultClients.
	Clients int
	// Kinds are the operations to run. Default Exec, Paid and Search,
	// and Call on a testnet.
	Kinds []Kind
	// MaxInflight is the single node's max_inflight_executions, and
	// MaxConcurrent its max_concurrent_executions (0: the node's
	// default). An overload run sets them below Clients.
	MaxInflight, MaxConcurrent int
	// Settle is the pause between the end of the load and the after
	// measurement. Default DefaultSettle.
	Settle time.Duration
	// DataDir holds the nodes' data; "" uses a temporary directory,
	// removed at the end.
	DataDir string
	// HeapProfile, when set, is the path prefix of heap profiles written
	// with the before and after measurements (<prefix>-before.pprof,
	// <prefix>-after.pprof).
	HeapProfile string
	// Progress, when set, is told of each stage.
	Progress io.Writer
}

func (c *Config) withDefaults() error {
	if c.Duration <= 0 {
		c.Duration = DefaultDuration
	}
	if c.Nodes <= 0 {
		c.Nodes = 1
	}
	if c.Clients <= 0 {
		c.Clients = DefaultClients
	}
	if len(c.Kinds) == 0 {
		c.Kinds = []Kind{Exec, Paid, Search}
		if c.Nodes > 1 {
			c.Kinds = append(c.Kinds, Call)
		}
	}
	for _, k := range c.Kinds {
		switch k {
		case Exec, Paid, Search:
		case Call:
			if c.Nodes < 2 {
				return errors.New("loadtest config: call needs a testnet (nodes > 1)")
			}
		default:
			return fmt.Errorf("loadtest config: unknown kind %q", k)
		}
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.MaxConcurrent < 0 {
		return errors.New("loadtest config: negative max concurrent executions")
	}
	if c.Settle <= 0 {
		c.Settle = DefaultSettle
	}
	return nil
}

// Overloaded reports whether the run drives the single node past its
// execution limit, so that 503 is an expected answer.
func (c *Config) Overloaded() bool {
	n := 0
	for _, k := range c.Kinds {
		if k == Exec || k == Paid {
			n += c.Clients
		}
	}
	return c.Nodes == 1 && n > c.MaxInflight
}

func (c *Config) progress(format string, a ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", a...)
	}
}

// Run starts the target, warms it up, measures, runs the load for
// cfg.Duration, stops, settles, measures again, stops the target, and
// returns the report. An error means the run could not be made, not that
// the node misbehaved: that is in the report (see Report.Check).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "agentnode-load-")
		if err != nil {
			return nil, fmt.Errorf("load data dir: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	cfg.progress("starting %d node(s) in %s", cfg.Nodes, dir)
	tg, err := start(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer tg.close()
	ws, err := tg.workers(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cfg.progress("warming up %d workers", len(ws))
	for _, w := range ws {
		if err := w.warm(ctx); err != nil {
			return nil, fmt.Errorf("warm up %s worker: %w", w.kind, err)
		}
	}
	// The before measurement sees what the after one will: no client
	// connections, the same settle period.
	for _, w := range ws {
		w.closeIdle()
	}
	if err := sleep(ctx, cfg.Settle); err != nil {
		return nil, err
	}
	before := measure()
	if err := writeHeap(cfg.HeapProfile, "before"); err != nil {
		return nil, err
	}
	cfg.progress("load: %s, %d clients per kind (%v)", cfg.Duration, cfg.Clients, cfg.Kinds)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.run(ctx, deadline) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, w := range ws {
		w.closeIdle()
	}
	cfg.progress("load stopped after %s; settling %s", elapsed.Round(time.Millisecond), cfg.Settle)
	if err := sleep(ctx, cfg.Settle); err != nil {
		return nil, err
	}
	after := measure()
	if err := writeHeap(cfg.HeapProfile, "after"); err != nil {
		return nil, err
	}
	r := &Report{Config: cfg, Elapsed: elapsed, Before: before, After: after, Node: tg.counters(ctx)}
	r.Ops = summarize(cfg.Kinds, ws, elapsed)
	return r, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Snapshot is the process's memory and goroutines at one moment, after a
// garbage collection.
type Snapshot struct {
	HeapAlloc  uint64 // live heap bytes
	HeapInuse  uint64
	Sys        uint64 // bytes the Go runtime holds from the OS
	RSS        int64  // resident set, from /proc (0 where unknown)
	Goroutines int
}

// measure collects garbage twice (finalizers run between) and reads the
// process's figures.
func measure() Snapshot {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	rss, _ := testnet.SelfRSS()
	return Snapshot{HeapAlloc: m.HeapAlloc, HeapInuse: m.HeapInuse, Sys: m.Sys, RSS: rss, Goroutines: runtime.NumGoroutine()}
}

// writeHeap writes the heap profile to prefix-when.pprof, when prefix is
// set: `go tool pprof -diff_base <before> <after>` shows what grew.
func writeHeap(prefix, when string) error {
	if prefix == "" {
		return nil
	}
	f, err := os.Create(prefix + "-" + when + ".pprof")
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	err = pprof.Lookup("heap").WriteTo(f, 0)
	return errors.Join(err, f.Close())
}
