package script

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"unicode/utf8"

	"go.starlark.net/starlark"
)

// Cost model. One interpreter step is roughly 10-50 ns of work; a guard
// charges built-in work at the same rate.
const (
	// bytesPerStep: scanning or copying this many bytes costs one step.
	bytesPerStep = 512
	// elemsPerStep: copying this many list elements costs one step.
	elemsPerStep = 32
	// Memory charged per element of a new container, with Go's overhead.
	elemBytes     = 16 // an interface value in a list or tuple
	dictItemBytes = 64 // a hashtable entry: hash, key, value, links
	setItemBytes  = 48
	tupleBytes    = 32 // a small tuple's header
	// maxCollisions is how many distinct keys one 32-bit hash value may
	// carry in a run before the run is stopped as hash flooding.
	// Starlark's int hash and its FNV hash of short strings can be made to
	// collide on purpose; a table whose keys all collide degrades every
	// insert to a scan that no step counter sees.
	maxCollisions = 8
	// trackedKeyBytes is charged per distinct key the flooding check keeps.
	trackedKeyBytes = 48
)

const guardKey = "agentnode.script.guard"

// guard holds one run's budgets. It lives in its thread's locals and is
// used only by the goroutine running that thread.
type guard struct {
	ctx       context.Context
	lim       Limits
	alloc     int64
	out       []byte
	truncated bool
	// keys holds the distinct keys stored in dicts and sets so far, by
	// hash, to detect hash flooding.
	keys map[uint32][]starlark.Value
}

func guardOf(th *starlark.Thread) (*guard, error) {
	g, ok := th.Local(guardKey).(*guard)
	if !ok {
		return nil, fmt.Errorf("script: function called outside a sandboxed run")
	}
	return g, nil
}

// charge adds steps and bytes to the run's account and fails if either
// budget is exhausted or the deadline passed. It is called before the
// operation it pays for, so an operation over budget never runs.
func (g *guard) charge(th *starlark.Thread, steps, bytes int64, what string) error {
	if steps > 0 {
		next := satAdd(th.Steps, uint64(steps))
		if next >= g.lim.MaxSteps {
			return limitf(ErrSteps, "%s needs about %d more steps; the limit is %d", what, steps, g.lim.MaxSteps)
		}
		th.Steps = next
	}
	if bytes > 0 {
		left := g.lim.MaxAlloc - g.alloc
		if bytes > left {
			return limitf(ErrMemory, "%s would allocate %s; %s of the %s budget left", what, size(bytes), size(max(left, 0)), size(g.lim.MaxAlloc))
		}
		g.alloc += bytes
	}
	if err := g.ctx.Err(); err != nil {
		return limitf(ErrDeadline, "%v", err)
	}
	return nil
}

// stepsLeft is the step budget a walk may use.
func (g *guard) stepsLeft(th *starlark.Thread) int64 {
	if th.Steps >= g.lim.MaxSteps {
		return 0
	}
	return int64(min(g.lim.MaxSteps-th.Steps, math.MaxInt64))
}

// print is the thread's print hook: output is kept up to MaxOutput.
func (g *guard) print(_ *starlark.Thread, msg string) {
	room := g.lim.MaxOutput - len(g.out)
	if len(msg)+1 > room {
		g.truncated = true
		if room > 0 {
			g.out = append(g.out, msg[:room]...)
		}
		return
	}
	g.out = append(g.out, msg...)
	g.out = append(g.out, '\n')
}

// loadKey charges for hashing k, as a dict or set lookup does: strings
// hash in time proportional to their length, tuples recursively.
func (g *guard) loadKey(th *starlark.Thread, k starlark.Value) error {
	switch k := k.(type) {
	case starlark.String:
		return g.charge(th, int64(len(k))/bytesPerStep, 0, "hashing a key")
	case starlark.Bytes:
		return g.charge(th, int64(len(k))/bytesPerStep, 0, "hashing a key")
	case starlark.Tuple:
		w := walker{maxNodes: g.stepsLeft(th), maxDepth: g.lim.MaxDepth}
		if err := w.walk(k, 0); err != nil {
			return err
		}
		return g.charge(th, w.nodes, 0, "hashing a key")
	}
	return nil
}

// storeKey charges for inserting k into a dict or set, and stops the run
// if too many distinct keys share one hash (hash flooding).
func (g *guard) storeKey(th *starlark.Thread, k starlark.Value) error {
	if err := g.loadKey(th, k); err != nil {
		return err
	}
	h, err := k.Hash()
	if err != nil {
		return nil // unhashable: the operation itself reports it
	}
	bucket := g.keys[h]
	for _, old := range bucket {
		if eq, err := starlark.Equal(old, k); err == nil && eq {
			return nil
		}
	}
	if len(bucket) >= maxCollisions {
		return limitf(ErrSteps, "more than %d distinct dict or set keys share one hash value (hash flooding)", maxCollisions)
	}
	if err := g.charge(th, 0, trackedKeyBytes, "a new key"); err != nil {
		return err
	}
	if g.keys == nil {
		g.keys = make(map[uint32][]starlark.Value)
	}
	g.keys[h] = append(bucket, k)
	return nil
}

// walker walks a value's tree the way the interpreter's recursive
// operations do (str, repr, hash, ==, freeze): without a memo, so a value
// built by sharing, like l = [l, l] repeated, counts as the tree it
// expands to. It stops as soon as it passes a bound, so walking costs no
// more than the bound.
type walker struct {
	maxNodes int64 // visits allowed (a step budget)
	maxBytes int64 // repr bytes allowed; 0 means no bound
	maxDepth int   // nesting allowed
	cmpDepth int   // if > 0, do not descend below this depth (comparisons)
	strTop   bool  // a top-level string renders as itself (str), not quoted
	nodes    int64
	bytes    int64
}

func (w *walker) walk(v starlark.Value, depth int) error {
	if depth > w.maxDepth {
		return limitf(ErrMemory, "values nested more than %d deep", w.maxDepth)
	}
	w.nodes++
	descend := w.cmpDepth == 0 || depth+1 < w.cmpDepth
	switch v := v.(type) {
	case starlark.String:
		w.nodes += int64(len(v)) / bytesPerStep
		if depth == 0 && w.strTop {
			w.bytes += int64(len(v))
		} else {
			w.bytes += quotedLen(string(v))
		}
	case starlark.Bytes:
		w.nodes += int64(len(v)) / bytesPerStep
		if depth == 0 && w.strTop {
			w.bytes += int64(len(v))
		} else {
			w.bytes += 4*int64(len(v)) + 3
		}
	case starlark.Int:
		if _, ok := v.Int64(); ok {
			w.bytes += 20
		} else {
			w.bytes += int64(v.BigInt().BitLen())*31/100 + 2
		}
	case *starlark.List:
		w.bytes += 2 + 2*int64(v.Len())
		if descend {
			for x := range v.Elements() {
				if err := w.step(x, depth); err != nil {
					return err
				}
			}
		}
	case starlark.Tuple:
		w.bytes += 3 + 2*int64(len(v))
		if descend {
			for _, x := range v {
				if err := w.step(x, depth); err != nil {
					return err
				}
			}
		}
	case *starlark.Dict:
		w.bytes += 2 + 4*int64(v.Len())
		if descend {
			for k, x := range v.Entries() {
				if err := w.step(k, depth); err != nil {
					return err
				}
				if err := w.step(x, depth); err != nil {
					return err
				}
			}
		}
	case *starlark.Set:
		w.bytes += 7 + 2*int64(v.Len())
		if descend {
			for x := range v.Elements() {
				if err := w.step(x, depth); err != nil {
					return err
				}
			}
		}
	case *starlark.Function:
		w.bytes += 16 + int64(len(v.Name()))
	case *starlark.Builtin:
		w.bytes += 64 + int64(len(v.Name()))
	case *boundedIter:
		w.bytes += 4*v.bound + 16
	default:
		w.bytes += 64 // bool, None, float, range, …: short fixed forms
	}
	return w.check()
}

func (w *walker) step(x starlark.Value, depth int) error {
	if err := w.check(); err != nil {
		return err
	}
	return w.walk(x, depth+1)
}

func (w *walker) check() error {
	if w.nodes > w.maxNodes {
		return limitf(ErrSteps, "the operation would visit more than %d values", w.maxNodes)
	}
	if w.maxBytes > 0 && w.bytes > w.maxBytes {
		return limitf(ErrMemory, "the operation would produce more than %s of text", size(w.maxBytes))
	}
	return nil
}

// quotedLen bounds the length of a string's quoted form: escapes take up
// to four bytes per control or invalid byte, and non-ASCII runes that are
// not printable take \uXXXX or \UXXXXXXXX.
func quotedLen(s string) int64 {
	n := int64(len(s)) + 2
	valid := utf8.ValidString(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f || c == '"' || c == '\\':
			n += 3
		case c >= 0x80 && valid:
			n += 2
		case c >= 0x80:
			n += 3
		}
	}
	return n
}

// reprBytes bounds the text str() (strTop) or repr() makes of v.
func (g *guard) reprBytes(th *starlark.Thread, v starlark.Value, strTop bool) (int64, error) {
	w := walker{maxNodes: g.stepsLeft(th), maxBytes: max(g.lim.MaxAlloc-g.alloc, 1), maxDepth: g.lim.MaxDepth, strTop: strTop}
	if err := w.walk(v, 0); err != nil {
		return 0, err
	}
	return w.bytes, g.charge(th, w.nodes, 0, "formatting")
}

// cmpCost is the number of values a comparison of v with an equal value
// visits: the tree of v down to Starlark's comparison depth limit.
func (g *guard) cmpCost(th *starlark.Thread, v starlark.Value) (int64, error) {
	switch v := v.(type) {
	case starlark.String:
		return 1 + int64(len(v))/bytesPerStep, nil
	case *starlark.List, starlark.Tuple, *starlark.Dict, *starlark.Set:
		w := walker{maxNodes: g.stepsLeft(th), maxDepth: g.lim.MaxDepth, cmpDepth: starlark.CompareLimit + 1}
		if err := w.walk(v, 0); err != nil {
			return 0, err
		}
		return w.nodes, nil
	}
	return 1, nil
}

// lenBound returns the number of elements iterating v yields, or false if
// v is iterable with no known bound.
func lenBound(v starlark.Value) (int64, bool) {
	if b, ok := v.(*boundedIter); ok {
		return b.bound, true
	}
	if n := starlark.Len(v); n >= 0 {
		return int64(n), true
	}
	if _, ok := v.(starlark.Iterable); ok {
		return 0, false
	}
	return 0, true // not iterable: the operation reports it
}

// iterCharge charges for iterating v with per-element cost perElem steps
// and bytes, and fails for iterables of unknown length.
func (g *guard) iterCharge(th *starlark.Thread, v starlark.Value, stepsPer, bytesPer float64, what string) (int64, error) {
	n, ok := lenBound(v)
	if !ok {
		return 0, limitf(ErrRuntime, "%s: cannot bound iteration over %s", what, v.Type())
	}
	return n, g.charge(th, scale(n, stepsPer), scale(n, bytesPer), what)
}

// boundedIter wraps the lazy iterables of string.elems() and friends,
// whose length Starlark does not expose, with an upper bound on it.
type boundedIter struct {
	starlark.Iterable
	bound int64
}

var _ starlark.Iterable = (*boundedIter)(nil)

func (b *boundedIter) String() string        { return b.Iterable.String() }
func (b *boundedIter) Type() string          { return b.Iterable.Type() }
func (b *boundedIter) Freeze()               { b.Iterable.Freeze() }
func (b *boundedIter) Truth() starlark.Bool  { return b.Iterable.Truth() }
func (b *boundedIter) Hash() (uint32, error) { return b.Iterable.Hash() }

// scale returns n*f rounded down, saturating instead of overflowing.
func scale(n int64, f float64) int64 {
	x := float64(n) * f
	if x >= math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return int64(x)
}

func satMul(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

func satAdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return math.MaxUint64
	}
	return s
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
