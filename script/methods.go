package script

import (
	"strings"

	"go.starlark.net/starlark"
)

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
		n, err := g.reprBytes(th, v, false) // a field may use !r
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
