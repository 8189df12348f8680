package script

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// opBuiltins returns the guard built-ins the rewriter's calls name.
func opBuiltins() starlark.StringDict {
	d := starlark.StringDict{
		"$none":   starlark.None,
		"$key":    starlark.NewBuiltin("$key", builtinKey(false)),
		"$skey":   starlark.NewBuiltin("$skey", builtinKey(true)),
		"$slice":  starlark.NewBuiltin("$slice", builtinSlice),
		"$star":   starlark.NewBuiltin("$star", builtinStar),
		"$attr":   starlark.NewBuiltin("$attr", builtinAttr),
		"$method": starlark.NewBuiltin("$method", builtinMethod),
	}
	for op := syntax.PLUS; op <= syntax.GTGT; op++ {
		d["$"+op.String()] = starlark.NewBuiltin("$"+op.String(), binaryOp(op))
		aug := op - syntax.PLUS + syntax.PLUS_EQ
		d["$"+aug.String()] = starlark.NewBuiltin("$"+aug.String(), augOp(op))
	}
	for _, op := range []syntax.Token{syntax.EQL, syntax.NEQ, syntax.LT, syntax.GT, syntax.LE, syntax.GE, syntax.IN, syntax.NOT_IN} {
		d["$"+op.String()] = starlark.NewBuiltin("$"+op.String(), binaryOp(op))
	}
	return d
}

func two(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (x, y starlark.Value, err error) {
	if len(args) != 2 || len(kwargs) != 0 {
		return nil, nil, fmt.Errorf("%s: internal call with %d arguments", b.Name(), len(args))
	}
	return args[0], args[1], nil
}

// binaryOp performs x op y after charging what it costs.
func binaryOp(op syntax.Token) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		x, y, err := two(b, args, kwargs)
		if err != nil {
			return nil, err
		}
		g, err := guardOf(th)
		if err != nil {
			return nil, err
		}
		if err := g.binary(th, op, x, y); err != nil {
			return nil, err
		}
		switch op {
		case syntax.EQL, syntax.NEQ, syntax.LT, syntax.GT, syntax.LE, syntax.GE:
			ok, err := starlark.Compare(op, x, y)
			if err != nil {
				return nil, err
			}
			return starlark.Bool(ok), nil
		}
		return starlark.Binary(op, x, y)
	}
}

// augOp checks x op= y and returns y; the interpreter then performs the
// operation with its own in-place semantics (list += extends in place).
func augOp(op syntax.Token) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		x, y, err := two(b, args, kwargs)
		if err != nil {
			return nil, err
		}
		g, err := guardOf(th)
		if err != nil {
			return nil, err
		}
		if _, ok := x.(*starlark.List); ok && op == syntax.PLUS {
			// list += iterable extends in place with any iterable.
			if _, err := g.iterCharge(th, y, 1.0/elemsPerStep, 2*elemBytes, "list +="); err != nil {
				return nil, err
			}
			return y, nil
		}
		return y, g.binary(th, op, x, y)
	}
}

// binary charges for x op y: the size of what it builds and the time of
// what it scans.
func (g *guard) binary(th *starlark.Thread, op syntax.Token, x, y starlark.Value) error {
	switch op {
	case syntax.PLUS:
		switch x := x.(type) {
		case starlark.String:
			if y, ok := y.(starlark.String); ok {
				n := int64(len(x)) + int64(len(y))
				return g.charge(th, n/bytesPerStep, n, "string +")
			}
		case starlark.Bytes:
			if y, ok := y.(starlark.Bytes); ok {
				n := int64(len(x)) + int64(len(y))
				return g.charge(th, n/bytesPerStep, n, "bytes +")
			}
		case *starlark.List:
			if y, ok := y.(*starlark.List); ok {
				n := int64(x.Len()) + int64(y.Len())
				return g.charge(th, n/elemsPerStep, n*elemBytes, "list +")
			}
		case starlark.Tuple:
			if y, ok := y.(starlark.Tuple); ok {
				n := int64(len(x)) + int64(len(y))
				return g.charge(th, n/elemsPerStep, n*elemBytes, "tuple +")
			}
		case starlark.Int:
			return g.intBits(th, x, y, 1)
		}
	case syntax.MINUS:
		if xs, ok := x.(*starlark.Set); ok {
			return g.setOp(th, xs, y, "set -")
		}
		return g.intBits(th, x, y, 1)
	case syntax.STAR:
		return g.repeat(th, x, y)
	case syntax.LTLT:
		if xi, ok := x.(starlark.Int); ok {
			if yi, ok := y.(starlark.Int); ok {
				shift, ok := yi.Int64()
				if ok && shift >= 0 && shift <= 1<<20 {
					return g.checkBits(th, intBits(xi)+int(shift))
				}
			}
		}
	case syntax.PERCENT:
		if f, ok := x.(starlark.String); ok {
			return g.format(th, string(f), y)
		}
	case syntax.PIPE, syntax.AMP, syntax.CIRCUMFLEX:
		switch x := x.(type) {
		case *starlark.Set:
			return g.setOp(th, x, y, "set "+op.String())
		case *starlark.Dict:
			if y, ok := y.(*starlark.Dict); ok {
				n := int64(x.Len()) + int64(y.Len())
				return g.charge(th, n/4, n*dictItemBytes, "dict |")
			}
		}
	case syntax.IN, syntax.NOT_IN:
		return g.contains(th, x, y)
	case syntax.EQL, syntax.NEQ, syntax.LT, syntax.GT, syntax.LE, syntax.GE:
		switch x.(type) {
		case *starlark.List, starlark.Tuple, *starlark.Dict, *starlark.Set:
			c, err := g.cmpCost(th, x)
			if err != nil {
				return err
			}
			return g.charge(th, c, 0, "comparison")
		case starlark.String, starlark.Bytes:
			return g.charge(th, int64(starlark.Len(x))/bytesPerStep, 0, "comparison")
		}
	}
	return nil
}

// setOp charges for a set operation that builds a new set from x and y.
func (g *guard) setOp(th *starlark.Thread, x *starlark.Set, y starlark.Value, what string) error {
	ys, ok := y.(*starlark.Set)
	if !ok {
		return nil // the operation reports the type error
	}
	n := int64(x.Len()) + int64(ys.Len())
	return g.charge(th, n/4, n*setItemBytes, what)
}

// repeat charges for seq * n, n * seq and int * int.
func (g *guard) repeat(th *starlark.Thread, x, y starlark.Value) error {
	if _, ok := x.(starlark.Int); ok {
		if yi, ok := y.(starlark.Int); ok {
			return g.checkBits(th, intBits(x.(starlark.Int))+intBits(yi))
		}
		x, y = y, x
	}
	count, ok := y.(starlark.Int)
	if !ok {
		return nil
	}
	c, ok := count.Int64()
	if !ok || c <= 0 {
		return nil // starlark reports too-large counts; <= 0 is empty
	}
	var n, per int64
	switch x := x.(type) {
	case starlark.String:
		n, per = int64(len(x)), 1
	case starlark.Bytes:
		n, per = int64(len(x)), 1
	case *starlark.List:
		n, per = int64(x.Len()), elemBytes
	case starlark.Tuple:
		n, per = int64(len(x)), elemBytes
	default:
		return nil
	}
	total := satMul(satMul(n, c), per)
	return g.charge(th, total/bytesPerStep, total, fmt.Sprintf("repeating a %s %d times", x.Type(), c))
}

// intBits checks the result of x ± y for integers.
func (g *guard) intBits(th *starlark.Thread, x, y starlark.Value, extra int) error {
	xi, ok1 := x.(starlark.Int)
	yi, ok2 := y.(starlark.Int)
	if !ok1 || !ok2 {
		return nil
	}
	return g.checkBits(th, max(intBits(xi), intBits(yi))+extra)
}

func (g *guard) checkBits(th *starlark.Thread, bits int) error {
	if bits > g.lim.MaxIntBits {
		return limitf(ErrMemory, "integer result of about %d bits exceeds the %d-bit limit", bits, g.lim.MaxIntBits)
	}
	if bits > 64 {
		return g.charge(th, int64(bits)/4096, int64(bits)/8, "big integer arithmetic")
	}
	return nil
}

func intBits(i starlark.Int) int {
	if v, ok := i.Int64(); ok {
		if v < 0 {
			v = -v
		}
		n := 0
		for ; v != 0; v >>= 1 {
			n++
		}
		return n
	}
	return i.BigInt().BitLen()
}

// format charges for fmt % args: each directive may render any argument,
// so the bound is directives times the largest rendering, plus fmt.
func (g *guard) format(th *starlark.Thread, f string, args starlark.Value) error {
	directives := int64(strings.Count(f, "%"))
	var largest int64
	vals := []starlark.Value{args}
	switch a := args.(type) {
	case starlark.Tuple:
		vals = a
	case *starlark.Dict:
		vals = vals[:0]
		for _, v := range a.Entries() {
			vals = append(vals, v)
		}
	}
	for _, v := range vals {
		n, err := g.reprBytes(th, v, false) // a directive may be %r
		if err != nil {
			return err
		}
		largest = max(largest, n)
	}
	total := int64(len(f)) + satMul(directives, largest)
	return g.charge(th, total/bytesPerStep, total, "string formatting")
}

// contains charges for x in y.
func (g *guard) contains(th *starlark.Thread, x, y starlark.Value) error {
	switch y := y.(type) {
	case starlark.String, starlark.Bytes:
		return g.charge(th, int64(starlark.Len(y)+starlark.Len(x))/bytesPerStep*2, 0, "in")
	case *starlark.List, starlark.Tuple:
		c, err := g.cmpCost(th, x)
		if err != nil {
			return err
		}
		return g.charge(th, satMul(int64(starlark.Len(y)), c), 0, "in")
	case *starlark.Dict, *starlark.Set:
		return g.loadKey(th, x)
	}
	return nil
}

// builtinKey checks an index or dict key before the interpreter hashes
// it; store reports whether the key is being inserted.
func builtinKey(store bool) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) != 1 || len(kwargs) != 0 {
			return nil, fmt.Errorf("%s: internal call with %d arguments", b.Name(), len(args))
		}
		k := args[0]
		if _, ok := k.(starlark.Int); ok && !store {
			return k, nil // list and string indices: nothing to charge
		}
		g, err := guardOf(th)
		if err != nil {
			return nil, err
		}
		if store {
			err = g.storeKey(th, k)
		} else {
			err = g.loadKey(th, k)
		}
		return k, err
	}
}

// builtinSlice is x[lo:hi:step] with the interpreter's semantics, charged
// for the elements it copies.
func builtinSlice(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) != 4 || len(kwargs) != 0 {
		return nil, fmt.Errorf("$slice: internal call with %d arguments", len(args))
	}
	g, err := guardOf(th)
	if err != nil {
		return nil, err
	}
	x, ok := args[0].(starlark.Sliceable)
	if !ok {
		return nil, fmt.Errorf("invalid slice operand %s", args[0].Type())
	}
	start, end, step, err := sliceIndices(x.Len(), args[1], args[2], args[3])
	if err != nil {
		return nil, err
	}
	var n int64
	if step > 0 && end > start {
		n = int64((end - start + step - 1) / step)
	} else if step < 0 && start > end {
		n = int64((start - end - step - 1) / -step)
	}
	var bytes int64
	switch {
	case x.Type() == "range":
		n = 0 // a slice of a range is a range
	case isStringy(x):
		if step != 1 {
			bytes = n // a step of 1 shares the string's memory
		}
	default:
		bytes = n * elemBytes
	}
	if err := g.charge(th, n/elemsPerStep, bytes, "slicing"); err != nil {
		return nil, err
	}
	return x.Slice(start, end, step), nil
}

func isStringy(v starlark.Value) bool {
	switch v.(type) {
	case starlark.String, starlark.Bytes:
		return true
	}
	return false
}

// sliceIndices mirrors go.starlark.net's slice index rules.
func sliceIndices(n int, lo, hi, stepv starlark.Value) (start, end, step int, err error) {
	step = 1
	if stepv != starlark.None {
		if step, err = starlark.AsInt32(stepv); err != nil {
			return 0, 0, 0, fmt.Errorf("invalid slice step: %s", err)
		}
		if step == 0 {
			return 0, 0, 0, fmt.Errorf("zero is not a valid slice step")
		}
	}
	asIndex := func(v starlark.Value, def int, what string) (int, error) {
		if v == starlark.None {
			return def, nil
		}
		i, err := starlark.AsInt32(v)
		if err != nil {
			return 0, fmt.Errorf("invalid %s index: %s", what, err)
		}
		if i < 0 {
			i += n
		}
		return i, nil
	}
	if step > 0 {
		if start, err = asIndex(lo, 0, "start"); err != nil {
			return
		}
		start = min(max(start, 0), n)
		if end, err = asIndex(hi, n, "end"); err != nil {
			return
		}
		end = min(max(end, 0), n)
		if end < start {
			end = start
		}
		return start, end, step, nil
	}
	if start, err = asIndex(lo, n-1, "start"); err != nil {
		return
	}
	if start >= n {
		start = n - 1
	}
	if end, err = asIndex(hi, -1, "end"); err != nil {
		return
	}
	if end < -1 {
		end = -1
	}
	if start < end {
		start = end
	}
	return start, end, step, nil
}

// builtinStar charges for f(*x) and f(**x), which copy x into the call.
func builtinStar(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) != 1 || len(kwargs) != 0 {
		return nil, fmt.Errorf("$star: internal call with %d arguments", len(args))
	}
	g, err := guardOf(th)
	if err != nil {
		return nil, err
	}
	if _, err := g.iterCharge(th, args[0], 0.25, 2*elemBytes, "*args"); err != nil {
		return nil, err
	}
	return args[0], nil
}

// builtinAttr is x.name: methods of built-in types come back guarded.
func builtinAttr(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	x, n, err := two(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return guardedAttr(x, string(n.(starlark.String)))
}

// builtinMethod is x.name(args…) without allocating a bound method.
func builtinMethod(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("$method: internal call with %d arguments", len(args))
	}
	x, name := args[0], string(args[1].(starlark.String))
	m, err := rawAttr(x, name)
	if err != nil {
		return nil, err
	}
	mb, ok := m.(*starlark.Builtin)
	if !ok || mb.Receiver() == nil {
		return starlark.Call(th, m, args[2:], kwargs)
	}
	return callMethod(th, x, name, mb, args[2:], kwargs)
}

// rawAttr is the interpreter's attribute lookup, with its messages.
func rawAttr(x starlark.Value, name string) (starlark.Value, error) {
	ha, ok := x.(starlark.HasAttrs)
	if !ok {
		return nil, fmt.Errorf("%s has no .%s field or method", x.Type(), name)
	}
	v, err := ha.Attr(name)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("%s has no .%s field or method", x.Type(), name)
	}
	return v, nil
}

// guardedAttr returns x.name, with a built-in method wrapped so that
// calling it later is charged like a direct call.
func guardedAttr(x starlark.Value, name string) (starlark.Value, error) {
	v, err := rawAttr(x, name)
	if err != nil {
		return nil, err
	}
	mb, ok := v.(*starlark.Builtin)
	if !ok || mb.Receiver() == nil {
		return v, nil
	}
	return starlark.NewBuiltin(name, func(th *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return callMethod(th, x, name, mb, args, kwargs)
	}), nil
}
