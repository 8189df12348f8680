// Package tracetest measures the user regions (runtime/trace) that code
// marks on its hot paths: how long each kind of region took, occurrence by
// occurrence, in code run under an execution trace. Benchmarks use it to
// break a request's latency down by stage (verify, reserve, execute,
// settle, ...) without timing hooks in the production code: a region
// costs nothing when no trace is running.
//
// The trace is read with golang.org/x/exp/trace, the Go team's parser of
// the runtime's execution trace format.
package tracetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime/trace"
	"slices"
	"time"

	xtrace "golang.org/x/exp/trace"
)

// MaxTrace caps the trace Parse reads: a benchmark's trace of a few
// thousand requests is tens of megabytes.
const MaxTrace = 512 << 20

// ErrTooLarge is returned when a trace is over MaxTrace.
var ErrTooLarge = errors.New("execution trace over 512 MiB")

// Regions are the durations of the regions of a trace, by region type, in
// the order the regions ended.
type Regions map[string][]time.Duration

// Record runs fn under an execution trace and returns the regions that
// began and ended while it ran. It fails when a trace is already running
// (go test -trace).
func Record(fn func()) (Regions, error) {
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		return nil, fmt.Errorf("start execution trace: %w", err)
	}
	fn()
	trace.Stop()
	return Parse(&buf)
}

// open is a region that began and has not ended yet.
type open struct {
	typ   string
	begin xtrace.Time
}

// Parse reads an execution trace and returns the durations of its
// regions. Regions are matched per goroutine, innermost first, as the
// runtime nests them; a region whose beginning precedes the trace, or
// whose end follows it, is left out.
func Parse(r io.Reader) (Regions, error) { return parse(r, MaxTrace) }

func parse(r io.Reader, limit int64) (Regions, error) {
	lr := &io.LimitedReader{R: r, N: limit + 1}
	tr, err := xtrace.NewReader(lr)
	if err != nil {
		return nil, fmt.Errorf("read execution trace: %w", err)
	}
	out := Regions{}
	stacks := map[xtrace.GoID][]open{}
	for {
		e, err := tr.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if lr.N <= 0 {
			return nil, ErrTooLarge
		}
		if err != nil {
			return nil, fmt.Errorf("read execution trace: %w", err)
		}
		switch e.Kind() {
		case xtrace.EventRegionBegin:
			g := e.Goroutine()
			stacks[g] = append(stacks[g], open{typ: e.Region().Type, begin: e.Time()})
		case xtrace.EventRegionEnd:
			g, typ := e.Goroutine(), e.Region().Type
			st := stacks[g]
			i := len(st) - 1
			for i >= 0 && st[i].typ != typ {
				i--
			}
			if i < 0 {
				continue // began before the trace did
			}
			if d := e.Time().Sub(st[i].begin); d >= 0 {
				out[typ] = append(out[typ], d)
			}
			stacks[g] = st[:i]
		}
	}
	if lr.N <= 0 {
		return nil, ErrTooLarge
	}
	return out, nil
}

// Percentile returns the p-th percentile (0 to 100) of the durations of
// regions of type typ, false when there were none.
func (rs Regions) Percentile(typ string, p float64) (time.Duration, bool) {
	d := rs[typ]
	if len(d) == 0 {
		return 0, false
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(len(s)-1, max(0, int(float64(len(s))*p/100)))
	return s[i], true
}
