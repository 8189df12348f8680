package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Env describes the machine and the run, for the table's header.
type Env struct {
	Date      time.Time
	GoVersion string
	CPU       string
	Cores     int
	// LoadStart and LoadEnd are /proc/loadavg's 1, 5 and 15 minute
	// averages before and after the run.
	LoadStart, LoadEnd string
	Commit             string
	Took               time.Duration
	// TS says how the TypeScript stack's baseline was obtained.
	TS string
	// Problems are suites that failed and other things a reader must know.
	Problems []string
	// Timings are how long each suite ran, builds excluded.
	Timings []Timing
}

// Timing is the run time of one suite.
type Timing struct {
	Suite Suite
	Took  time.Duration
}

// Render writes the whole report: header, the checked table, every other
// result, and what failed.
func Render(w io.Writer, env Env, lines []Line, rs *Results) {
	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "`make bench` (internal/benchtable) on %s.\n\n", env.Date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- Go: %s; CPU: %s, %d cores\n", env.GoVersion, env.CPU, env.Cores)
	fmt.Fprintf(w, "- load average (1/5/15 min): %s at the start, %s at the end\n", env.LoadStart, env.LoadEnd)
	if env.Commit != "" {
		fmt.Fprintf(w, "- tree: %s\n", env.Commit)
	}
	if env.Took > 0 {
		fmt.Fprintf(w, "- run time: %s", env.Took.Round(time.Second))
		if env.Took > budget {
			fmt.Fprintf(w, " (over the %s budget)", budget)
		}
		fmt.Fprintln(w)
	}
	if env.TS != "" {
		fmt.Fprintf(w, "- TypeScript x402 baseline: %s\n", env.TS)
	}
	fmt.Fprintf(w, "\nMedians over the runs (n); ± is the 95%% confidence interval of the median as benchstat gives it; "+
		"ratio = median / baseline median, both from this run; a verdict marked ~ has an interval that crosses the bound.\n\n")

	t := newTable("benchmark", "median", "±", "unit", "n", "baseline", "ratio", "target", "result")
	failed := 0
	for _, l := range lines {
		med, unit, pm, n := "–", l.Row.Unit, "", ""
		if l.Have {
			med, unit = scale(l.Stat.Median, l.Row.Unit)
			pm, n = l.Stat.Range, fmt.Sprint(l.Stat.N)
		}
		base, ratio := "", ""
		if l.Row.Baseline != "" {
			base = shortKey(l.Row.Baseline)
			if l.HaveBase {
				v, u := scale(l.Base, l.Row.Unit)
				base += " (" + v + " " + u
				if l.BaseNote != "" {
					base += ", " + l.BaseNote
				}
				base += ")"
			}
			if l.Ratio != 0 {
				ratio = fmtRatio(l.Ratio)
			}
		}
		var targets []string
		for _, tg := range l.Row.Targets {
			targets = append(targets, tg.Format(l.Row.Unit))
		}
		v := l.Verdict
		if l.Shaky && v != "" {
			v = "~" + v
		}
		if !l.Pass {
			failed++
		}
		t.add(l.Row.Name, med, pm, unit, n, base, ratio, strings.Join(targets, ", "), v)
	}
	t.write(w)

	fmt.Fprintf(w, "\n## Every result\n\n")
	all := newTable("benchmark", "median", "±", "unit", "n", "other metrics (medians)")
	for _, k := range rs.Keys() {
		units := rs.Units(k)
		primary := primaryUnit(rs, k, units)
		st, _ := rs.Stat(k, primary)
		med, u := scale(st.Median, primary)
		var other []string
		for _, un := range units {
			if un == primary {
				continue
			}
			if s, ok := rs.Stat(k, un); ok {
				v, uu := scale(s.Median, un)
				other = append(other, v+" "+uu)
			}
		}
		all.add(k, med, st.Range, u, fmt.Sprint(st.N), strings.Join(other, ", "))
	}
	all.write(w)

	var notes []string
	for _, l := range lines {
		if !l.Pass && len(l.Row.Targets) > 0 {
			n := fmt.Sprintf("%s (%s): %s", l.Row.Name, l.Row.Key, l.Verdict)
			if l.Row.Note != "" {
				n += ". " + l.Row.Note
			}
			notes = append(notes, n)
		}
	}
	notes = append(notes, env.Problems...)
	for _, s := range rs.Syntax {
		notes = append(notes, "unparsed output: "+s)
	}
	fmt.Fprintf(w, "\n## Summary\n\n")
	checked := 0
	for _, l := range lines {
		if len(l.Row.Targets) > 0 {
			checked++
		}
	}
	met := 0
	for _, l := range lines {
		if len(l.Row.Targets) > 0 && l.Pass {
			met++
		}
	}
	fmt.Fprintf(w, "%d of %d targets met.\n", met, checked)
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
	if len(env.Timings) > 0 {
		fmt.Fprintf(w, "\n## Run plan\n\n")
		rt := newTable("package", "-bench", "-benchtime", "-count", "took")
		for _, t := range env.Timings {
			rt.add(t.Suite.Pkg, "`"+t.Suite.Bench+"`", t.Suite.Benchtime, fmt.Sprint(t.Suite.Count), t.Took.Round(100*time.Millisecond).String())
		}
		rt.write(w)
	}
}

// primaryUnit is the metric shown first for a benchmark: ns/op unless the
// benchmark zeroed it to report its own rate, else its first own metric.
func primaryUnit(rs *Results, key string, units []string) string {
	if s, ok := rs.Stat(key, "ns/op"); ok && s.Median != 0 {
		return "ns/op"
	}
	for _, u := range units {
		if u != "ns/op" && u != "B/op" && u != "allocs/op" {
			return u
		}
	}
	if len(units) > 0 {
		return units[0]
	}
	return "ns/op"
}

// shortKey drops the package from a key for the baseline column.
func shortKey(k string) string {
	if _, name, ok := strings.Cut(k, ":"); ok {
		return name
	}
	return k
}

// table is a Markdown table padded to line up in a terminal too.
type table struct {
	head []string
	rows [][]string
}

func newTable(head ...string) *table { return &table{head: head} }

func (t *table) add(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	t.rows = append(t.rows, cells)
}

func (t *table) write(w io.Writer) {
	width := make([]int, len(t.head))
	for _, r := range append([][]string{t.head}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			b.WriteString(" ")
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)))
			b.WriteString(" |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(t.head)
	sep := make([]string, len(t.head))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
}
