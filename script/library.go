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

// methods lists every method of the built-in types the sandbox reviewed,
// by "type.name". A method missing here is refused.
var methods = map[string]estimator{
	"string.capitalize": estCase, "string.lower": estCase, "string.upper": estCase, "string.title": estCase,
	"string.count": estScan, "string.find": estScan, "string.index": estScan, "string.rfind": estScan,
	"string.rindex": estScan, "string.startswith": estScan, "string.endswith": estScan,
	"string.removeprefix": estScan, "string.removesuffix": estScan, "string.strip": estScan,
	"string.lstrip": estScan, "string.rstrip": estScan, "string.partition": estScan,
	"string.rpartition": estScan, "string.isalnum": estScan, "string.isalpha": estScan,
	"string.isdigit": estScan, "string.islower": estScan, "string.isspace": estScan,
	"string.istitle": estScan, "string.isupper": estScan,
	"string.elems": passThrough, "string.elem_ords": passThrough,
	"string.codepoints": passThrough, "string.codepoint_ords": passThrough,
	"string.format": estFormat, "string.join": estJoin, "string.replace": estReplace,
	"string.split": estSplit, "string.rsplit": estSplit, "string.splitlines": estSplitlines,
	"bytes.elems": passThrough,
	"list.append": fixed(0, 2*elemBytes), "list.clear": passThrough,
	"list.extend": iterArg(0, 1.0/elemsPerStep, 2*elemBytes), "list.insert": estShift,
	"list.pop": estShift, "list.remove": estSearch, "list.index": estSearch,
	"dict.get": keyArg(false), "dict.pop": keyArg(false), "dict.setdefault": keyArg(true),
	"dict.update": estDictUpdate, "dict.popitem": passThrough, "dict.clear": passThrough,
	"dict.items": recvSized(2*elemBytes + tupleBytes), "dict.keys": recvSized(elemBytes),
	"dict.values": recvSized(elemBytes),
	"set.add":     keyArg(true), "set.discard": keyArg(false), "set.remove": keyArg(false),
	"set.pop": passThrough, "set.clear": passThrough,
	"set.union": setArgs(true, true), "set.update": setArgs(true, false),
	"set.symmetric_difference": setArgs(true, true), "set.intersection": setArgs(false, true),
	"set.difference": setArgs(false, true), "set.issubset": setArgs(false, false),
	"set.issuperset": setArgs(false, false),
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

// estCase: upper(), lower(), title(), capitalize() copy the string; a
// case change can grow a UTF-8 sequence by half.
func estCase(g *guard, th *starlark.Thread, recv starlark.Value, _ starlark.Tuple, _ []starlark.Tuple) error {
	n := int64(starlark.Len(recv))
	return g.charge(th, n/bytesPerStep, n+n/2+16, "case conversion")
}

// estScan: searches and predicates read the string and their arguments.
func estScan(g *guard, th *starlark.Thread, recv starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
	n := int64(starlark.Len(recv))
	for _, a := range args {
		switch a := a.(type) {
		case starlark.String:
			n += int64(len(a))
		case starlark.Tuple:
			n += satMul(int64(len(a)), int64(starlark.Len(recv)))
		}
	}
	return g.charge(th, 2*n/bytesPerStep, 0, "string scan")
}

// estFormat bounds "…".format(args): every {} field may render the
// largest argument.
func estFormat(g *guard, th *starlark.Thread, recv starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) error {
	f := string(recv.(starlark.String))
	var largest int64
	vals := append([]starlark.Value(nil), args...)
	for _, kv := range kwargs {
		vals = append(vals, kv[1])
	}
	for _, v := range vals {
		n, err := g.reprBytes(th, v, true)
		if err != nil {
			return err
		}
		largest = max(largest, n)
	}
	total := int64(len(f)) + satMul(int64(strings.Count(f, "{")), largest)
	return g.charge(th, total/bytesPerStep, total, "format()")
}

// estJoin computes the joined length exactly.
func estJoin(g *guard, th *starlark.Thread, recv starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
	v := arg(args, 0)
	if v == nil {
		return nil
	}
	n, err := g.iterCharge(th, v, 1.0/elemsPerStep, 0, "join")
	if err != nil {
		return err
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return nil
	}
	total := satMul(max(n-1, 0), int64(starlark.Len(recv)))
	for x := range starlark.Elements(it) {
		if s, ok := x.(starlark.String); ok {
			total += int64(len(s))
		}
	}
	return g.charge(th, total/bytesPerStep, total, "join")
}

// estReplace computes the replaced length from the number of matches.
func estReplace(g *guard, th *starlark.Thread, recv starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) error {
	s := string(recv.(starlark.String))
	old, ok1 := arg(args, 0).(starlark.String)
	repl, ok2 := arg(args, 1).(starlark.String)
	if !ok1 || !ok2 {
		return nil
	}
	if err := g.charge(th, int64(len(s))/bytesPerStep, 0, "replace"); err != nil {
		return err
	}
	matches := int64(strings.Count(s, string(old)))
	if c, ok := arg(args, 2).(starlark.Int); ok {
		if cv, ok := c.Int64(); ok && cv >= 0 {
			matches = min(matches, cv)
		}
	}
	total := int64(len(s))
	if grow := int64(len(repl)) - int64(len(old)); grow > 0 {
		total += satMul(matches, grow)
	}
	return g.charge(th, total/bytesPerStep, total, "replace")
}

// estSplit bounds the pieces: one more than the separators found.
func estSplit(g *guard, th *starlark.Thread, recv starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) error {
	s := string(recv.(starlark.String))
	sep := arg(args, 0)
	if sep == nil {
		sep = kwarg(kwargs, "sep")
	}
	var parts int64
	if sv, ok := sep.(starlark.String); ok && len(sv) > 0 {
		parts = int64(strings.Count(s, string(sv))) + 1
	} else {
		parts = int64(len(s))/2 + 1
	}
	return g.charge(th, int64(len(s))/bytesPerStep+parts/elemsPerStep, parts*2*elemBytes, "split")
}

func estSplitlines(g *guard, th *starlark.Thread, recv starlark.Value, _ starlark.Tuple, _ []starlark.Tuple) error {
	s := string(recv.(starlark.String))
	parts := int64(strings.Count(s, "\n")+strings.Count(s, "\r")) + 1
	return g.charge(th, int64(len(s))/bytesPerStep+parts/elemsPerStep, parts*2*elemBytes, "splitlines")
}

// estShift: insert and pop move the elements after the index.
func estShift(g *guard, th *starlark.Thread, recv starlark.Value, _ starlark.Tuple, _ []starlark.Tuple) error {
	return g.charge(th, int64(starlark.Len(recv))/elemsPerStep, 2*elemBytes, "list shift")
}

// estSearch: remove and index compare the argument with each element.
func estSearch(g *guard, th *starlark.Thread, recv starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
	x := arg(args, 0)
	if x == nil {
		return nil
	}
	c, err := g.cmpCost(th, x)
	if err != nil {
		return err
	}
	return g.charge(th, satMul(int64(starlark.Len(recv)), c)/4, 0, "list search")
}

func keyArg(store bool) estimator {
	return func(g *guard, th *starlark.Thread, _ starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
		k := arg(args, 0)
		if k == nil {
			return nil
		}
		if store {
			if err := g.charge(th, 0, dictItemBytes, "insert"); err != nil {
				return err
			}
			return g.storeKey(th, k)
		}
		return g.loadKey(th, k)
	}
}

func recvSized(per int64) estimator {
	return func(g *guard, th *starlark.Thread, recv starlark.Value, _ starlark.Tuple, _ []starlark.Tuple) error {
		n := int64(starlark.Len(recv))
		return g.charge(th, n/elemsPerStep, n*per, "copying a dict view")
	}
}

// setArgs charges for set methods taking iterables: insert reports
// whether their elements are inserted (union, update), copy whether a new
// set is built from the receiver.
func setArgs(insert, copyRecv bool) estimator {
	return func(g *guard, th *starlark.Thread, recv starlark.Value, args starlark.Tuple, _ []starlark.Tuple) error {
		if copyRecv {
			n := int64(starlark.Len(recv))
			if err := g.charge(th, n/4, n*setItemBytes, "set copy"); err != nil {
				return err
			}
		}
		for _, a := range args {
			if insert {
				if err := g.storeAll(th, a, setItemBytes); err != nil {
					return err
				}
				continue
			}
			if _, err := g.iterCharge(th, a, 0.25, 0, "set"); err != nil {
				return err
			}
			if it, ok := a.(starlark.Iterable); ok {
				for x := range starlark.Elements(it) {
					if err := g.loadKey(th, x); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
}
