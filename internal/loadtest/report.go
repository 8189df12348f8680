package loadtest

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OpStats are the figures of one kind of operation.
type OpStats struct {
	Kind Kind
	// OK counts the operations that succeeded; Errors the others, by
	// class ("503 busy", "timeout", "transport", "402 <reason>", ...).
	OK     int
	Errors map[string]int
	// Throughput is successful operations per second.
	Throughput float64
	// Latency percentiles of the successful operations.
	P50, P99, P999, Max time.Duration
	// ShedP999 is the p99.9 latency of the 503 answers: how fast the
	// node sheds.
	ShedP999 time.Duration
}

// Report is what a run saw.
type Report struct {
	Config  Config
	Elapsed time.Duration
	Ops     []OpStats
	// Before is taken after the warm-up, After after the load, the
	// settle period and a garbage collection.
	Before, After Snapshot
	// Node holds the nodes' own counters at the end (summed): requests
	// shed, executions and payments by outcome.
	Node map[string]float64
}

// summarize merges the workers' records per kind.
func summarize(kinds []Kind, ws []*worker, elapsed time.Duration) []OpStats {
	var out []OpStats
	for _, k := range kinds {
		st := OpStats{Kind: k, Errors: map[string]int{}}
		var lat, shed []time.Duration
		for _, w := range ws {
			if w.kind != k {
				continue
			}
			lat = append(lat, w.latencies...)
			shed = append(shed, w.shed...)
			for c, n := range w.errors {
				st.Errors[c] += n
			}
		}
		st.OK = len(lat)
		st.Throughput = float64(st.OK) / elapsed.Seconds()
		slices.Sort(lat)
		st.P50, st.P99, st.P999 = Percentile(lat, 50), Percentile(lat, 99), Percentile(lat, 99.9)
		if len(lat) > 0 {
			st.Max = lat[len(lat)-1]
		}
		slices.Sort(shed)
		st.ShedP999 = Percentile(shed, 99.9)
		out = append(out, st)
	}
	return out
}

// Percentile returns the p-th percentile of sorted durations by the
// nearest-rank method (the smallest value with at least p% of the values
// at or below it); 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// ErrorCount returns the number of failed operations.
func (s OpStats) ErrorCount() int {
	n := 0
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// Leak bounds: what the process may hold after a run beyond what it held
// before it. Goroutines: the node's pools and the sessions' timers settle
// back; a handful of runtime and HTTP goroutines may come and go.
// Heap: bounded caches (sessions, activity, compiled modules, search
// cache, metrics series) fill during a run and stay; the embedded chain,
// in the same process, keeps every block, receipt and state change in
// memory, 4-6 KiB per settlement depending on how many share a block
// (measured: 15,007 settlements grew the heap by 59.5 MiB with 5 ms
// blocks, 17,449 by 98.5 MiB with 2 ms blocks; exec and search alone by
// 1-2 MiB; a heap profile diff puts it in go-ethereum's memorydb and
// trie). Each settlement the node counted is allowed 8 KiB; anything more
// is a leak.
const (
	maxGoroutineGrowth     = 16
	maxHeapGrowth          = 16 << 20
	chainHeapPerSettlement = 8 << 10
)

// heapAllowance is how much the heap may grow in a run that settled n
// payments.
func heapAllowance(settled float64) uint64 {
	return maxHeapGrowth + uint64(settled)*chainHeapPerSettlement
}

// Check returns nil when the run saw only what a healthy node does: every
// kind succeeded at least once; no operation timed out or lost its
// connection; the only errors are 503 busy, and only when the run was
// meant to overload; goroutines and heap came back to where they were.
func (r *Report) Check() error {
	var errs []error
	for _, s := range r.Ops {
		if s.OK == 0 {
			errs = append(errs, fmt.Errorf("%s: no operation succeeded", s.Kind))
		}
		for class, n := range s.Errors {
			if class == ClassBusy && r.Config.Overloaded() && (s.Kind == Exec || s.Kind == Paid) {
				continue
			}
			errs = append(errs, fmt.Errorf("%s: %d unexpected errors %q", s.Kind, n, class))
		}
	}
	if d := r.After.Goroutines - r.Before.Goroutines; d > maxGoroutineGrowth {
		errs = append(errs, fmt.Errorf("goroutines grew by %d (%d -> %d)", d, r.Before.Goroutines, r.After.Goroutines))
	}
	if allowed := heapAllowance(r.settled()); r.After.HeapAlloc > r.Before.HeapAlloc+allowed {
		errs = append(errs, fmt.Errorf("heap grew by %s (%s -> %s), more than the %s allowed for %.0f settlements",
			mib(int64(r.After.HeapAlloc-r.Before.HeapAlloc)), mib(int64(r.Before.HeapAlloc)), mib(int64(r.After.HeapAlloc)),
			mib(int64(allowed)), r.settled()))
	}
	return errors.Join(errs...)
}

// settled is the payments the nodes settled during the run, by their own
// counters.
func (r *Report) settled() float64 {
	return r.Node[`agentnode_payments_total{outcome="settled"}`] + r.Node[`agentnode_payments_total{outcome="settled_late"}`]
}

// Markdown writes the report as a section of bench/load.md.
func (r *Report) Markdown(w io.Writer, title string) {
	c := r.Config
	fmt.Fprintf(w, "### %s\n\n", title)
	target := "one node (embedded chain, simulated TEE, module runs priced 10000, a free echo agent)"
	if c.Nodes > 1 {
		target = fmt.Sprintf("a %d-node testnet in one process (embedded chain, demo agents; paid: notary, 5000)", c.Nodes)
	}
	fmt.Fprintf(w, "%s; %d clients per kind; %s of load (measured %s); max_inflight_executions %d.\n\n",
		target, c.Clients, c.Duration, r.Elapsed.Round(time.Millisecond), c.MaxInflight)
	fmt.Fprintln(w, "| operation | ok | ops/s | p50 | p99 | p99.9 | max | errors | 503 p99.9 |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|---:|")
	for _, s := range r.Ops {
		fmt.Fprintf(w, "| %s | %d | %.1f | %s | %s | %s | %s | %s | %s |\n", s.Kind, s.OK, s.Throughput, ms(s.P50), ms(s.P99), ms(s.P999), ms(s.Max),
			errorList(s.Errors), ms(s.ShedP999))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| process | before | after |")
	fmt.Fprintln(w, "|---|---:|---:|")
	fmt.Fprintf(w, "| heap (live, after GC) | %s | %s |\n", mib(int64(r.Before.HeapAlloc)), mib(int64(r.After.HeapAlloc)))
	fmt.Fprintf(w, "| heap in use | %s | %s |\n", mib(int64(r.Before.HeapInuse)), mib(int64(r.After.HeapInuse)))
	fmt.Fprintf(w, "| RSS | %s | %s |\n", mib(r.Before.RSS), mib(r.After.RSS))
	fmt.Fprintf(w, "| goroutines | %d | %d |\n", r.Before.Goroutines, r.After.Goroutines)
	if len(r.Node) > 0 {
		keys := make([]string, 0, len(r.Node))
		for k := range r.Node {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(w, "\nThe node's counters at the end:")
		fmt.Fprintln(w)
		for _, k := range keys {
			fmt.Fprintf(w, "- `%s` %s\n", k, strconv.FormatFloat(r.Node[k], 'f', -1, 64))
		}
	}
	verdict := "**check: passed** (only expected answers; goroutines and heap back to their level)"
	if err := r.Check(); err != nil {
		verdict = "**check: FAILED**: " + strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	fmt.Fprintf(w, "\n%s\n\n", verdict)
}

func errorList(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB"
}
