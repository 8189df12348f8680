package script

import (
	"fmt"
	"math/bits"
	"strings"

	"go.starlark.net/starlark"
)

// estimator charges for one call of a built-in before it runs. recv is
// the receiver of a method, nil for a function. Estimators are lenient
// about malformed arguments: the built-in itself reports those, before it
// does any work.
type estimator func(g *guard, th *starlark.Thread, recv starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) error

// passThrough marks built-ins whose cost does not depend on their input
// beyond a constant.
func passThrough(*guard, *starlark.Thread, starlark.Value, starlark.Tuple, []starlark.Tuple) error {
	return nil
}

// universe lists every built-in function of go.starlark.net the sandbox
// reviewed. A built-in missing from this table (one added by a later
// go.starlark.net) is disabled, not trusted.
var universe = map[string]estimator{
	"abs": passThrough, "bool": passThrough, "chr": passThrough, "dir": passThrough,
	"hasattr": passThrough, "len": passThrough, "ord": passThrough, "range": passThrough,
	"type": passThrough,
	"any":  iterArg(0, 0.25, 0), "all": iterArg(0, 0.25, 0),
	"list": iterArg(0, 1.0/elemsPerStep, 2*elemBytes), "tuple": iterArg(0, 1.0/elemsPerStep, elemBytes),
	"reversed":  iterArg(0, 1.0/elemsPerStep, elemBytes),
	"enumerate": iterArg(0, 1.0/elemsPerStep, 2*elemBytes+tupleBytes),
	"bytes":     estBytes, "dict": estDict, "set": estSet, "zip": estZip,
	"float": stringArg(0), "hash": stringArg(0), "int": estInt,
	"str": estStr(true), "repr": estStr(false), "print": estPrint, "fail": estPrint,
	"max": estMinMax, "min": estMinMax, "sorted": estSorted,
}

// newPredeclared assembles what a script sees: every reviewed built-in
// (guarded where its cost depends on its input), the guard operators of
// the rewriter, the test assertions, and the host's values.
func newPredeclared(host map[string]any) (starlark.StringDict, error) {
	d := opBuiltins()
	for name, v := range starlark.Universe {
		orig, ok := v.(*starlark.Builtin)
		if !ok {
			d[name] = v // None, True, False
			continue
		}
		if name == "getattr" {
			d[name] = starlark.NewBuiltin("getattr", builtinGetattr)
			continue
		}
		est, reviewed := universe[name]
		if !reviewed {
			d[name] = starlark.NewBuiltin(name, func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
				return nil, fmt.Errorf("%s is not available in the sandbox", name)
			})
			continue
		}
		d[name] = guardedBuiltin(orig, est)
	}
	for name, b := range assertions() {
		d[name] = b
	}
	for name, v := range host {
		if !isIdent(name) {
			return nil, fmt.Errorf("predeclared name %q is not an identifier: %w", name, ErrConvert)
		}
		if _, taken := d[name]; taken {
			return nil, fmt.Errorf("predeclared name %q shadows a built-in: %w", name, ErrConvert)
		}
		sv, err := toValue(v, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("predeclared %s: %w", name, err)
		}
		sv.Freeze()
		d[name] = sv
	}
	return d, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func guardedBuiltin(orig *starlark.Builtin, est estimator) *starlark.Builtin {
	return starlark.NewBuiltin(orig.Name(), func(th *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		g, err := guardOf(th)
		if err != nil {
			return nil, err
		}
		if err := est(g, th, nil, args, kwargs); err != nil {
			return nil, err
		}
		return orig.CallInternal(th, args, kwargs)
	})
}

// callMethod charges for recv.name(args) and calls the bound built-in m.
func callMethod(th *starlark.Thread, recv starlark.Value, name string, m *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	g, err := guardOf(th)
	if err != nil {
		return nil, err
	}
	est, ok := methods[recv.Type()+"."+name]
	if !ok {
		return nil, fmt.Errorf("%s.%s is not available in the sandbox", recv.Type(), name)
	}
	if err := est(g, th, recv, args, kwargs); err != nil {
		return nil, err
	}
	v, err := starlark.Call(th, m, args, kwargs)
	if err != nil {
		return nil, err
	}
	switch name {
	case "elems", "elem_ords", "codepoints", "codepoint_ords":
		if it, ok := v.(starlark.Iterable); ok {
			return &boundedIter{Iterable: it, bound: int64(starlark.Len(recv))}, nil
		}
	}
	return v, nil
}

func builtinGetattr(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x, dflt starlark.Value
	var name string
	if err := starlark.UnpackPositionalArgs("getattr", args, kwargs, 2, &x, &name, &dflt); err != nil {
		return nil, err
	}
	v, err := guardedAttr(x, name)
	if err != nil && dflt != nil {
		return dflt, nil
	}
	return v, err
}

func arg(args starlark.Tuple, i int) starlark.Value {
	if i < len(args) {
		return args[i]
	}
	return nil
}

func kwarg(kwargs []starlark.Tuple, name string) starlark.Value {
	for _, kv := range kwargs {
		if string(kv[0].(starlark.String)) == name {
			return kv[1]
		}
	}
	return nil
}

// iterArg charges per element of positional argument i.
func iterArg(i int, stepsPer, bytesPer float64) estimator {
	return func(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
		v := arg(args, i)
		if v == nil {
			return nil
		}
		_, err := g.iterCharge(th, v, stepsPer, bytesPer, "iteration")
		return err
	}
}

func fixed(steps, bytes int64) estimator {
	return func(g *guard, th *starlark.Thread, _ starlark.Value, _ starlark.Tuple, _ []starlark.Tuple) error {
		return g.charge(th, steps, bytes, "call")
	}
}

// stringArg charges for scanning a string argument (float("…"), hash).
func stringArg(i int) estimator {
	return func(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
		if s, ok := arg(args, i).(starlark.String); ok {
			return g.charge(th, int64(len(s))/bytesPerStep, 0, "parsing")
		}
		return nil
	}
}

func estBytes(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
	switch v := arg(args, 0).(type) {
	case nil:
		return nil
	case starlark.String:
		return g.charge(th, int64(len(v))/bytesPerStep, int64(len(v))*3, "bytes()")
	default:
		_, err := g.iterCharge(th, v, 0.25, 2, "bytes()")
		return err
	}
}

// estInt bounds int(string, base): digits times bits per digit.
func estInt(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) error {
	s, ok := arg(args, 0).(starlark.String)
	if !ok {
		return nil
	}
	base := arg(args, 1)
	if base == nil {
		base = kwarg(kwargs, "base")
	}
	perDigit := 4 // base 10 and base 0 with a 0x, 0o or 0b prefix
	if b, ok := base.(starlark.Int); ok {
		if bv, ok := b.Int64(); ok && bv > 16 {
			perDigit = 6
		}
	}
	if bits := len(strings.TrimSpace(string(s))) * perDigit; bits > g.lim.MaxIntBits+64 {
		return limitf(ErrMemory, "int() of a %d-character string exceeds the %d-bit integer limit", len(s), g.lim.MaxIntBits)
	}
	return nil
}

func estStr(str bool) estimator {
	return func(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
		v := arg(args, 0)
		if v == nil {
			return nil
		}
		if _, ok := v.(starlark.String); ok && str {
			return nil // str of a string is the string
		}
		n, err := g.reprBytes(th, v, str)
		if err != nil {
			return err
		}
		return g.charge(th, n/bytesPerStep, n, "str()")
	}
}

// estPrint bounds the text of print() and fail().
func estPrint(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) error {
	var total int64
	for _, v := range args {
		n, err := g.reprBytes(th, v, true)
		if err != nil {
			return err
		}
		total += n + 16
	}
	// The separator is written between every two arguments.
	if sep, ok := kwarg(kwargs, "sep").(starlark.String); ok {
		total += satMul(int64(len(sep)), int64(max(len(args)-1, 0)))
	}
	return g.charge(th, total/bytesPerStep, total, "formatting a message")
}

func estDict(g *guard, th *starlark.Thread, recv starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) error {
	if err := estDictUpdate(g, th, recv, args, kwargs); err != nil {
		return err
	}
	return nil
}

// estDictUpdate charges for dict(x, **kw) and d.update(x, **kw): every
// key is inserted.
func estDictUpdate(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) error {
	if err := g.charge(th, int64(len(kwargs)), int64(len(kwargs))*dictItemBytes, "dict"); err != nil {
		return err
	}
	v := arg(args, 0)
	if v == nil {
		return nil
	}
	if _, err := g.iterCharge(th, v, 0.25, dictItemBytes, "dict"); err != nil {
		return err
	}
	if m, ok := v.(starlark.IterableMapping); ok {
		for k := range starlark.Entries(m) {
			if err := g.storeKey(th, k); err != nil {
				return err
			}
		}
		return nil
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return nil
	}
	for pair := range starlark.Elements(it) {
		if p, ok := pair.(starlark.Indexable); ok && p.Len() == 2 {
			if err := g.storeKey(th, p.Index(0)); err != nil {
				return err
			}
		}
	}
	return nil
}

func estSet(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
	v := arg(args, 0)
	if v == nil {
		return nil
	}
	return g.storeAll(th, v, setItemBytes)
}

// storeAll charges for inserting every element of v into a set.
func (g *guard) storeAll(th *starlark.Thread, v starlark.Value, per float64) error {
	if _, err := g.iterCharge(th, v, 0.25, per, "set"); err != nil {
		return err
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return nil
	}
	for x := range starlark.Elements(it) {
		if err := g.storeKey(th, x); err != nil {
			return err
		}
	}
	return nil
}

func estZip(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
	if len(args) == 0 {
		return nil
	}
	shortest := int64(-1)
	for _, a := range args {
		n, ok := lenBound(a)
		if !ok {
			return limitf(ErrRuntime, "zip: cannot bound iteration over %s", a.Type())
		}
		if shortest < 0 || n < shortest {
			shortest = n
		}
	}
	k := int64(len(args))
	return g.charge(th, satMul(shortest, k)/elemsPerStep, satMul(shortest, elemBytes+tupleBytes+k*elemBytes), "zip")
}

// elementsCost charges for visiting every element of v, as comparisons
// among them do, and returns the count and the total comparison cost.
func (g *guard) elementsCost(th *starlark.Thread, v starlark.Value) (n, cost int64, err error) {
	if n, err = g.iterCharge(th, v, 1.0/elemsPerStep, 0, "comparison"); err != nil {
		return 0, 0, err
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return 0, 0, nil
	}
	for x := range starlark.Elements(it) {
		c, err := g.cmpCost(th, x)
		if err != nil {
			return 0, 0, err
		}
		cost += c
		if cost > g.stepsLeft(th) {
			return 0, 0, limitf(ErrSteps, "comparing the elements needs more than the %d steps left", g.stepsLeft(th))
		}
	}
	return n, cost, nil
}

func estMinMax(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
	var v starlark.Value = args
	if len(args) == 1 {
		v = args[0]
	}
	_, cost, err := g.elementsCost(th, v)
	if err != nil {
		return err
	}
	return g.charge(th, cost, 0, "min/max")
}

func estSorted(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) error {
	v := arg(args, 0)
	if v == nil {
		return nil
	}
	n, cost, err := g.elementsCost(th, v)
	if err != nil {
		return err
	}
	log := int64(bits.Len64(uint64(n)))
	per := int64(2 * elemBytes)
	if kwarg(kwargs, "key") != nil {
		per += 2 * elemBytes
	}
	return g.charge(th, satMul(cost, log+1), satMul(n, per), "sorted")
}
