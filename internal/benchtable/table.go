package main

import (
	"fmt"
	"math"
	"strings"
)

// Suite is one go test invocation of the plan.
type Suite struct {
	// Pkg is the package, relative to the module root ("./node/bridge").
	Pkg string
	// Bench, Benchtime and Count are go test's -bench, -benchtime, -count.
	Bench     string
	Benchtime string
	Count     int
	// TS measures the official TypeScript x402 stack right before this
	// suite (the baseline of paid execution).
	TS bool
}

// Row is a checked line of the table: one metric of one benchmark, its
// baseline in the same run, and the targets it must meet.
type Row struct {
	// Name is what the table calls it.
	Name string
	// Key is the benchmark (see Parse) and Unit the metric shown.
	Key, Unit string
	// Baseline, when set, is the benchmark the ratio is taken against,
	// in the same unit: ratio = median(Key) / median(Baseline).
	Baseline string
	// Targets must all hold for the row to pass.
	Targets []Target
	// Note explains a known gap: what the design's floor is and why. It
	// is printed with the row's verdict when a target is missed.
	Note string
}

// Target is a bound on a row's median, or on its ratio to the baseline.
type Target struct {
	Ratio bool    // on the ratio, not the value
	Op    string  // "<", "≤" or "≥"
	Bound float64 // the bound
}

// AtMost is value ≤ v.
func AtMost(v float64) Target { return Target{Op: "≤", Bound: v} }

// AtLeast is value ≥ v.
func AtLeast(v float64) Target { return Target{Op: "≥", Bound: v} }

// RatioAtMost is ratio ≤ v.
func RatioAtMost(v float64) Target { return Target{Ratio: true, Op: "≤", Bound: v} }

// RatioAtLeast is ratio ≥ v.
func RatioAtLeast(v float64) Target { return Target{Ratio: true, Op: "≥", Bound: v} }

// RatioBelow is ratio < v.
func RatioBelow(v float64) Target { return Target{Ratio: true, Op: "<", Bound: v} }

// Met reports whether x satisfies the target.
func (t Target) Met(x float64) bool {
	switch t.Op {
	case "<":
		return x < t.Bound
	case "≤":
		return x <= t.Bound
	case "≥":
		return x >= t.Bound
	}
	return false
}

// Format renders the target for a row in unit.
func (t Target) Format(unit string) string {
	if t.Ratio {
		return t.Op + " " + fmtRatio(t.Bound)
	}
	v, u := scale(t.Bound, unit)
	return t.Op + " " + v + " " + u
}

// gap says how far x misses the target, for a failing row.
func (t Target) gap(x float64, unit string) string {
	var shown, bound string
	if t.Ratio {
		shown, bound = fmtRatio(x), fmtRatio(t.Bound)
	} else {
		v, u := scale(x, unit)
		b, _ := scale(t.Bound, unit)
		shown, bound = v+" "+u, b+" "+u
	}
	if t.Op == "≥" {
		return fmt.Sprintf("%s < %s: %.0f%% short", shown, bound, 100*(1-x/t.Bound))
	}
	return fmt.Sprintf("%s > %s: %.0f%% over", shown, bound, 100*(x/t.Bound-1))
}

// Fallback is a baseline taken from outside the run when the run could
// not measure it.
type Fallback struct {
	Value  float64
	Source string
}

// Line is an evaluated row.
type Line struct {
	Row  Row
	Stat Stat
	// Have tells whether the benchmark ran.
	Have bool
	// Base is the baseline's median; BaseNote says where it comes from
	// when not from this run.
	Base     float64
	HaveBase bool
	BaseNote string
	Ratio    float64
	// Verdict is "pass", "FAIL: <gap>", "no data" or "" (no target).
	Verdict string
	// Pass is true when every target holds.
	Pass bool
	// Shaky is true when the 95% interval of the median reaches across a
	// bound: the verdict could flip on another run.
	Shaky bool
}

// Evaluate checks rows against the results.
func Evaluate(rs *Results, rows []Row, fallbacks map[string]Fallback) []Line {
	lines := make([]Line, 0, len(rows))
	for _, r := range rows {
		l := Line{Row: r}
		l.Stat, l.Have = rs.Stat(r.Key, r.Unit)
		if r.Baseline != "" {
			if b, ok := rs.Stat(r.Baseline, r.Unit); ok {
				l.Base, l.HaveBase = b.Median, true
			} else if f, ok := fallbacks[r.Baseline]; ok {
				l.Base, l.HaveBase, l.BaseNote = f.Value, true, f.Source
			}
		}
		if l.Have && l.HaveBase && l.Base != 0 {
			l.Ratio = l.Stat.Median / l.Base
		}
		l.Verdict, l.Pass, l.Shaky = verdict(l)
		lines = append(lines, l)
	}
	return lines
}

func verdict(l Line) (string, bool, bool) {
	if len(l.Row.Targets) == 0 {
		if !l.Have {
			return "no data", false, false
		}
		return "", true, false
	}
	if !l.Have {
		return "no data", false, false
	}
	var gaps []string
	shaky := false
	for _, t := range l.Row.Targets {
		x, lo, hi := l.Stat.Median, l.Stat.Lo, l.Stat.Hi
		if t.Ratio {
			if !l.HaveBase || l.Base == 0 {
				return "no baseline", false, false
			}
			x, lo, hi = l.Ratio, lo/l.Base, hi/l.Base
		}
		if !t.Met(x) {
			gaps = append(gaps, t.gap(x, l.Row.Unit))
		}
		if finite(lo) && finite(hi) && t.Met(lo) != t.Met(hi) {
			shaky = true
		}
	}
	if len(gaps) > 0 {
		return "FAIL: " + strings.Join(gaps, "; "), false, shaky
	}
	return "pass", true, shaky
}

func finite(x float64) bool { return !math.IsInf(x, 0) && !math.IsNaN(x) }

// scale renders a value of unit in a readable unit: times per op in ns,
// µs, ms or s; everything else as is, with thousands separators.
func scale(v float64, unit string) (string, string) {
	if rest, ok := strings.CutPrefix(unit, "ns/"); ok {
		switch a := math.Abs(v); {
		case a >= 1e9:
			return fmtNum(v / 1e9), "s/" + rest
		case a >= 1e6:
			return fmtNum(v / 1e6), "ms/" + rest
		case a >= 1e3:
			return fmtNum(v / 1e3), "µs/" + rest
		}
	}
	return fmtNum(v), unit
}

// fmtNum prints three significant digits, or the integer with thousands
// separators when it is 1000 or more.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return commas(int64(math.Round(v)))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a == 0:
		return "0"
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtRatio(r float64) string {
	switch {
	case r >= 10:
		return fmt.Sprintf("%.1fx", r)
	case r >= 0.1:
		return fmt.Sprintf("%.2fx", r)
	}
	return fmt.Sprintf("%.3gx", r)
}
