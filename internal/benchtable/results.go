package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// maxInput caps the benchmark output Parse reads: a full run is a few
// hundred kilobytes.
const maxInput = 64 << 20

// errTooLarge is returned when benchmark output is over maxInput.
var errTooLarge = errors.New("benchmark output over 64 MiB")

// Results are the measurements of a run: for every benchmark (by key)
// and unit, the value of each repetition.
type Results struct {
	values map[string]map[string][]float64
	keys   []string            // in the order first seen
	units  map[string][]string // a key's units, in the order first seen
	// Syntax lists the lines that looked like results but did not parse.
	Syntax []string
}

// newResults returns empty Results.
func newResults() *Results {
	return &Results{values: map[string]map[string][]float64{}, units: map[string][]string{}}
}

// Parse reads go test -bench output (any number of packages, any
// count). A benchmark's key is its package path relative to module,
// a colon and its name without "Benchmark" and the GOMAXPROCS suffix:
// "node/bridge:BridgeExec", "enclave/wasm/meter:Meter/fib/metered". Units
// are kept as the benchmark printed them (ns/op, not benchfmt's sec/op),
// so that the plan can name them as they appear in the output.
func Parse(r io.Reader, name, module string) (*Results, error) {
	res := newResults()
	lr := &io.LimitedReader{R: r, N: maxInput + 1}
	br := benchfmt.NewReader(lr, name)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			res.Syntax = append(res.Syntax, rec.Error())
		case *benchfmt.Result:
			res.add(keyOf(rec, module), rec)
		}
	}
	if err := br.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if lr.N <= 0 {
		return nil, fmt.Errorf("read %s: %w", name, errTooLarge)
	}
	return res, nil
}

// keyOf names a result: relative package path, ":", name.
func keyOf(r *benchfmt.Result, module string) string {
	pkg := r.GetConfig("pkg")
	switch {
	case pkg == module:
		pkg = "."
	case strings.HasPrefix(pkg, module+"/"):
		pkg = pkg[len(module)+1:]
	}
	base, parts := r.Name.Parts()
	var b strings.Builder
	b.WriteString(pkg)
	b.WriteByte(':')
	b.Write(base)
	for _, p := range parts {
		if len(p) > 0 && p[0] == '-' { // the GOMAXPROCS suffix
			continue
		}
		b.Write(p)
	}
	return b.String()
}

func (rs *Results) add(key string, r *benchfmt.Result) {
	m, ok := rs.values[key]
	if !ok {
		m = map[string][]float64{}
		rs.values[key] = m
		rs.keys = append(rs.keys, key)
	}
	for _, v := range r.Values {
		unit, val := v.Unit, v.Value
		if v.OrigUnit != "" {
			unit, val = v.OrigUnit, v.OrigValue
		}
		if _, seen := m[unit]; !seen {
			rs.units[key] = append(rs.units[key], unit)
		}
		m[unit] = append(m[unit], val)
	}
}

// Merge adds the measurements of o to rs.
func (rs *Results) Merge(o *Results) {
	for _, k := range o.keys {
		for _, u := range o.units[k] {
			m, ok := rs.values[k]
			if !ok {
				m = map[string][]float64{}
				rs.values[k] = m
				rs.keys = append(rs.keys, k)
			}
			if _, seen := m[u]; !seen {
				rs.units[k] = append(rs.units[k], u)
			}
			m[u] = append(m[u], o.values[k][u]...)
		}
	}
	rs.Syntax = append(rs.Syntax, o.Syntax...)
}

// Keys returns the benchmarks in the order they were first seen.
func (rs *Results) Keys() []string { return slices.Clone(rs.keys) }

// Units returns a benchmark's units in the order they were first seen.
func (rs *Results) Units(key string) []string { return slices.Clone(rs.units[key]) }

// Stat is the summary of one benchmark's metric over its repetitions.
type Stat struct {
	N int
	// Median is the sample median; Lo and Hi bound its 95% confidence
	// interval (benchstat's summary, from benchmath.AssumeNothing).
	Median, Lo, Hi float64
	// Range is benchstat's ±x% (or ∞ when too few runs for an interval).
	Range string
	// Warnings are benchmath's remarks on the sample (too few runs, ...).
	Warnings []string
}

// Stat summarizes key's unit, false when the run has no such value.
func (rs *Results) Stat(key, unit string) (Stat, bool) {
	vals := rs.values[key][unit]
	if len(vals) == 0 {
		return Stat{}, false
	}
	s := benchmath.NewSample(slices.Clone(vals), &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(s, 0.95)
	st := Stat{N: len(vals), Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi, Range: sum.PctRangeString()}
	for _, w := range append(s.Warnings, sum.Warnings...) {
		st.Warnings = append(st.Warnings, w.Error())
	}
	return st, true
}
