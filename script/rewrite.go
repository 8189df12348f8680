package script

import (
	"fmt"

	"go.starlark.net/syntax"
)

// The rewriter instruments a parsed script before it is resolved and
// compiled. Every operation whose cost depends on its operands' size
// becomes a call to a guard built-in (names start with "$", which no
// script identifier can) that charges the run's budgets and then performs
// the operation with the interpreter's own semantics:
//
//	x OP y            -> $OP(x, y)           (all binary operators but and/or)
//	t OP= y           -> t OP= $OP=(t, y)    (checks, then the real op runs)
//	x.f(args)         -> $method(x, "f", args)
//	x.f               -> $attr(x, "f")
//	x[k]              -> x[$key(k)]          (loads; stores use $skey)
//	x[a:b:c]          -> $slice(x, a, b, c)
//	{k: v}            -> {$skey(k): v}
//	f(*a, **kw)       -> f(*$star(a), **$star(kw))
//
// Positions are kept, so errors still name the script's file:line:col.

// posError is a compile error the rewriter raises at a position.
type posError struct {
	pos syntax.Position
	msg string
}

func (e posError) Error() string { return fmt.Sprintf("%s: %s", e.pos, e.msg) }

type rewriter struct{}

func instrument(f *syntax.File) error {
	var r rewriter
	return r.stmts(f.Stmts)
}

func (r *rewriter) stmts(ss []syntax.Stmt) error {
	for _, s := range ss {
		if err := r.stmt(s); err != nil {
			return err
		}
	}
	return nil
}

func (r *rewriter) stmt(s syntax.Stmt) error {
	switch s := s.(type) {
	case *syntax.AssignStmt:
		if s.Op == syntax.EQ {
			s.RHS = r.expr(s.RHS)
			return r.target(s.LHS)
		}
		if hasCall(s.LHS) {
			return posError{s.OpPos, fmt.Sprintf("the target of %s calls a function; assign it to a variable first (the sandbox evaluates augmented targets twice)", s.Op)}
		}
		check, err := clone(s.LHS)
		if err != nil {
			return err
		}
		if err := r.target(s.LHS); err != nil {
			return err
		}
		s.RHS = call("$"+s.Op.String(), s.OpPos, r.expr(check), r.expr(s.RHS))
	case *syntax.DefStmt:
		r.params(s.Params)
		return r.stmts(s.Body)
	case *syntax.ExprStmt:
		s.X = r.expr(s.X)
	case *syntax.IfStmt:
		s.Cond = r.expr(s.Cond)
		if err := r.stmts(s.True); err != nil {
			return err
		}
		return r.stmts(s.False)
	case *syntax.ForStmt:
		s.X = r.expr(s.X)
		if err := r.target(s.Vars); err != nil {
			return err
		}
		return r.stmts(s.Body)
	case *syntax.WhileStmt:
		s.Cond = r.expr(s.Cond)
		return r.stmts(s.Body)
	case *syntax.ReturnStmt:
		if s.Result != nil {
			s.Result = r.expr(s.Result)
		}
	case *syntax.LoadStmt:
		return posError{s.Load, "load() is not available: a sandboxed script is self-contained"}
	case *syntax.BranchStmt:
	default:
		return fmt.Errorf("unexpected statement %T", s)
	}
	return nil
}

func (r *rewriter) params(ps []syntax.Expr) {
	for _, p := range ps {
		if b, ok := p.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
			b.Y = r.expr(b.Y)
		}
	}
}

// target instruments the subexpressions of an assignment target, leaving
// the target itself assignable.
func (r *rewriter) target(e syntax.Expr) error {
	switch e := e.(type) {
	case *syntax.Ident:
	case *syntax.IndexExpr:
		e.X = r.expr(e.X)
		e.Y = r.key(e.Y, "$skey")
	case *syntax.DotExpr:
		e.X = r.expr(e.X)
	case *syntax.ParenExpr:
		return r.target(e.X)
	case *syntax.ListExpr:
		for _, x := range e.List {
			if err := r.target(x); err != nil {
				return err
			}
		}
	case *syntax.TupleExpr:
		for _, x := range e.List {
			if err := r.target(x); err != nil {
				return err
			}
		}
	}
	// Anything else is not assignable; the resolver reports it.
	return nil
}

func (r *rewriter) expr(e syntax.Expr) syntax.Expr {
	switch e := e.(type) {
	case nil:
		return nil
	case *syntax.Ident, *syntax.Literal:
		return e
	case *syntax.ParenExpr:
		e.X = r.expr(e.X)
		return e
	case *syntax.BinaryExpr:
		e.X, e.Y = r.expr(e.X), r.expr(e.Y)
		if e.Op == syntax.AND || e.Op == syntax.OR {
			return e
		}
		return call("$"+e.Op.String(), e.OpPos, e.X, e.Y)
	case *syntax.UnaryExpr:
		e.X = r.expr(e.X)
		return e
	case *syntax.CallExpr:
		args := r.args(e.Args)
		if dot, ok := e.Fn.(*syntax.DotExpr); ok {
			c := call("$method", e.Lparen, append([]syntax.Expr{r.expr(dot.X), str(dot.Name.Name, dot.NamePos)}, args...)...)
			c.Rparen = e.Rparen
			return c
		}
		e.Fn, e.Args = r.expr(e.Fn), args
		return e
	case *syntax.DotExpr:
		return call("$attr", e.Dot, r.expr(e.X), str(e.Name.Name, e.NamePos))
	case *syntax.IndexExpr:
		e.X = r.expr(e.X)
		e.Y = r.key(e.Y, "$key")
		return e
	case *syntax.SliceExpr:
		return call("$slice", e.Lbrack, r.expr(e.X), r.orNone(e.Lo, e.Lbrack), r.orNone(e.Hi, e.Lbrack), r.orNone(e.Step, e.Lbrack))
	case *syntax.ListExpr:
		for i, x := range e.List {
			e.List[i] = r.expr(x)
		}
		return e
	case *syntax.TupleExpr:
		for i, x := range e.List {
			e.List[i] = r.expr(x)
		}
		return e
	case *syntax.DictExpr:
		for _, x := range e.List {
			r.entry(x.(*syntax.DictEntry))
		}
		return e
	case *syntax.Comprehension:
		for _, c := range e.Clauses {
			switch c := c.(type) {
			case *syntax.ForClause:
				c.X = r.expr(c.X)
				_ = r.target(c.Vars)
			case *syntax.IfClause:
				c.Cond = r.expr(c.Cond)
			}
		}
		if d, ok := e.Body.(*syntax.DictEntry); ok {
			r.entry(d)
		} else {
			e.Body = r.expr(e.Body)
		}
		return e
	case *syntax.CondExpr:
		e.Cond, e.True, e.False = r.expr(e.Cond), r.expr(e.True), r.expr(e.False)
		return e
	case *syntax.LambdaExpr:
		r.params(e.Params)
		e.Body = r.expr(e.Body)
		return e
	}
	return e
}

func (r *rewriter) entry(d *syntax.DictEntry) {
	d.Key = r.key(d.Key, "$skey")
	d.Value = r.expr(d.Value)
}

// args instruments call arguments: positional values, the values of
// keyword arguments, and *args / **kwargs (which copy their operand).
func (r *rewriter) args(args []syntax.Expr) []syntax.Expr {
	for i, a := range args {
		switch a := a.(type) {
		case *syntax.BinaryExpr:
			if a.Op == syntax.EQ {
				a.Y = r.expr(a.Y)
				continue
			}
		case *syntax.UnaryExpr:
			if a.Op == syntax.STAR || a.Op == syntax.STARSTAR {
				a.X = call("$star", a.OpPos, r.expr(a.X))
				continue
			}
		}
		args[i] = r.expr(a)
	}
	return args
}

// key wraps a computed index or dict key in the guard fn; literal keys
// cost what the source costs and are left alone.
func (r *rewriter) key(e syntax.Expr, fn string) syntax.Expr {
	if isConst(e) {
		return e
	}
	start, _ := e.Span()
	return call(fn, start, r.expr(e))
}

func (r *rewriter) orNone(e syntax.Expr, pos syntax.Position) syntax.Expr {
	if e == nil {
		return &syntax.Ident{NamePos: pos, Name: "$none"}
	}
	return r.expr(e)
}

func isConst(e syntax.Expr) bool {
	switch e := e.(type) {
	case *syntax.Literal:
		return true
	case *syntax.UnaryExpr:
		_, ok := e.X.(*syntax.Literal)
		return ok && e.Op == syntax.MINUS
	}
	return false
}

func call(fn string, pos syntax.Position, args ...syntax.Expr) *syntax.CallExpr {
	return &syntax.CallExpr{
		Fn:     &syntax.Ident{NamePos: pos, Name: fn},
		Lparen: pos,
		Args:   args,
		Rparen: pos,
	}
}

func str(s string, pos syntax.Position) *syntax.Literal {
	return &syntax.Literal{Token: syntax.STRING, TokenPos: pos, Raw: fmt.Sprintf("%q", s), Value: s}
}

// hasCall reports whether evaluating e may call a function.
func hasCall(e syntax.Expr) bool {
	found := false
	syntax.Walk(e, func(n syntax.Node) bool {
		if _, ok := n.(*syntax.CallExpr); ok {
			found = true
		}
		return !found
	})
	return found
}

// clone copies an augmented-assignment target so it can be evaluated a
// second time, for the check, as its own syntax tree.
func clone(e syntax.Expr) (syntax.Expr, error) {
	switch e := e.(type) {
	case *syntax.Ident:
		c := *e
		c.Binding = nil
		return &c, nil
	case *syntax.Literal:
		c := *e
		return &c, nil
	case *syntax.ParenExpr:
		x, err := clone(e.X)
		if err != nil {
			return nil, err
		}
		c := *e
		c.X = x
		return &c, nil
	case *syntax.IndexExpr:
		x, err := clone(e.X)
		if err != nil {
			return nil, err
		}
		y, err := clone(e.Y)
		if err != nil {
			return nil, err
		}
		c := *e
		c.X, c.Y = x, y
		return &c, nil
	case *syntax.DotExpr:
		x, err := clone(e.X)
		if err != nil {
			return nil, err
		}
		c := *e
		c.X = x
		n := *e.Name
		n.Binding = nil
		c.Name = &n
		return &c, nil
	case *syntax.BinaryExpr:
		x, err := clone(e.X)
		if err != nil {
			return nil, err
		}
		y, err := clone(e.Y)
		if err != nil {
			return nil, err
		}
		c := *e
		c.X, c.Y = x, y
		return &c, nil
	case *syntax.UnaryExpr:
		x, err := clone(e.X)
		if err != nil {
			return nil, err
		}
		c := *e
		c.X = x
		return &c, nil
	}
	start, _ := e.Span()
	return nil, posError{start, "this augmented assignment target is too complex for the sandbox; assign it to a variable first"}
}
