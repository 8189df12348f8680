package metertest

import (
	"math"
	"math/rand/v2"
)

// sig is a function type.
type sig struct{ params, results []byte }

// label is an open block as seen by branches: loops are never branch targets of random
// code (only their own countdown branches back), so every loop terminates.
type label struct {
	types []byte // branch types; nil for a loop
	loop  bool
}

// gen builds one module.
type gen struct {
	rnd *rand.Rand
	cfg GenConfig

	types      []sig
	funcTypes  []int // type of every function, imports first
	numImp     int   // imported functions
	numDefined int   // defined functions, start function excluded
	globals    []byte
	numImpGlob int
	frefGlobal int // immutable funcref global holding ref.func frefFunc
	frefFunc   int
	tableSize  int

	// The function being generated.
	cur    int
	locals []byte
	usable []int
	labels []label
	body   []byte
	budget int
	depth  int
	fTmp32 int // scratch locals for NaN canonicalization
	fTmp64 int
}

const (
	maxDepth  = 4
	memMask   = 0x7ff0 // addresses stay in the first page
	dataBytes = 64
	passBytes = 16
)

func (g *gen) pick(n int) int { return g.rnd.IntN(n) }
func (g *gen) chance(pct int) bool {
	return g.rnd.IntN(100) < pct
}

func (g *gen) emit(b ...byte) { g.body = append(g.body, b...); g.budget-- }
func (g *gen) u32(v uint32)   { g.body = appendU32(g.body, v) }

// i32 pushes i32 constants.
func (g *gen) i32(vs ...int) {
	for _, v := range vs {
		g.emit(0x41)
		g.body = appendS64(g.body, int64(v))
	}
}

func (g *gen) typeIndex(s sig) int {
	g.types = append(g.types, s)
	return len(g.types) - 1
}

func (g *gen) scalar() byte { return []byte{I32, I64, F32, F64}[g.pick(4)] }

func (g *gen) module() []byte {
	if g.cfg.Imports {
		g.funcTypes = append(g.funcTypes, g.typeIndex(sig{[]byte{I32}, []byte{I32}}))
		g.numImp = 1
		g.numImpGlob = 1
	}
	g.numDefined = g.cfg.Funcs
	for i := 0; i < g.numDefined; i++ {
		var s sig
		for n := g.pick(4); n > 0; n-- {
			s.params = append(s.params, g.scalar())
		}
		for n := g.pick(3); n > 0; n-- {
			s.results = append(s.results, g.scalar())
		}
		g.funcTypes = append(g.funcTypes, g.typeIndex(s))
	}
	if g.cfg.Start {
		g.funcTypes = append(g.funcTypes, g.typeIndex(sig{}))
	}
	g.globals = []byte{I32, I64, F32, F64}
	if g.cfg.SIMD {
		g.globals = append(g.globals, V128)
	}
	g.frefFunc = g.numImp + g.pick(g.numDefined)
	g.frefGlobal = g.numImpGlob + len(g.globals)
	g.tableSize = len(g.funcTypes) + 4

	bodies := make([][]byte, 0, len(g.funcTypes))
	for f := g.numImp; f < len(g.funcTypes); f++ {
		bodies = append(bodies, g.function(f))
	}
	return g.encode(bodies)
}

// function generates the body (locals and code) of function f.
func (g *gen) function(f int) []byte {
	s := g.types[g.funcTypes[f]]
	g.cur = f
	g.locals = append(g.locals[:0], s.params...)
	for n := g.pick(5); n > 0; n-- {
		t := g.scalar()
		if g.cfg.SIMD && g.chance(20) {
			t = V128
		}
		g.locals = append(g.locals, t)
	}
	g.usable = g.usable[:0]
	for i := range g.locals {
		g.usable = append(g.usable, i)
	}
	g.fTmp32 = g.newLocal(F32)
	g.fTmp64 = g.newLocal(F64)
	g.body = g.body[:0]
	g.labels = append(g.labels[:0], label{types: s.results})
	g.budget = g.cfg.Budget
	g.depth = 0
	for g.budget > 0 {
		g.stmt()
	}
	for _, t := range s.results {
		g.expr(t)
	}
	g.body = append(g.body, 0x0b)

	// Locals: params are implicit; one entry per declared local.
	decl := g.locals[len(s.params):]
	out := appendU32(nil, uint32(len(decl)))
	for _, t := range decl {
		out = append(out, 1, t)
	}
	return append(out, g.body...)
}

// newLocal declares a local that random code does not touch.
func (g *gen) newLocal(t byte) int {
	g.locals = append(g.locals, t)
	return len(g.locals) - 1
}

func (g *gen) localOf(t byte) (int, bool) {
	var c []int
	for _, i := range g.usable {
		if g.locals[i] == t {
			c = append(c, i)
		}
	}
	if len(c) == 0 {
		return 0, false
	}
	return c[g.pick(len(c))], true
}

func (g *gen) globalOf(t byte) (int, bool) {
	for i, gt := range g.globals {
		if gt == t && (t != V128 || g.chance(50)) {
			return g.numImpGlob + i, true
		}
	}
	return 0, false
}

// callee picks a function f may call without recursion: one of higher index, or the
// import; -1 if none.
func (g *gen) callee() int {
	var c []int
	if g.numImp > 0 {
		c = append(c, 0)
	}
	for j := g.cur + 1; j < g.numImp+g.numDefined; j++ {
		c = append(c, j)
	}
	if len(c) == 0 {
		return -1
	}
	return c[g.pick(len(c))]
}

// call emits a direct or indirect call to j with generated arguments.
func (g *gen) call(j int) []byte {
	s := g.types[g.funcTypes[j]]
	for _, t := range s.params {
		g.expr(t)
	}
	if g.chance(30) {
		g.emit(0x41) // i32.const j: the table holds function j at slot j
		g.body = appendS64(g.body, int64(j))
		g.emit(0x11)
		g.u32(uint32(g.funcTypes[j]))
		g.u32(0)
	} else {
		g.emit(0x10)
		g.u32(uint32(j))
	}
	return s.results
}

func (g *gen) address() {
	if g.budget > 0 && g.chance(50) {
		g.expr(I32)
		g.emit(0x41)
		g.body = appendS64(g.body, memMask)
		g.emit(0x71) // i32.and
		return
	}
	g.emit(0x41)
	if g.chance(2) {
		g.body = appendS64(g.body, 65530) // out of bounds for wide accesses: a trap
		return
	}
	g.body = appendS64(g.body, int64(g.pick(memMask)))
}

func (g *gen) memarg(align, offset uint32) {
	g.u32(align)
	g.u32(offset)
}

// canonicalize replaces a NaN float on the stack by the canonical NaN, so that no NaN
// payload (which may legitimately differ between two compilations) reaches memory or an
// integer: local.set t; if (t != t) { nan } else { t }. It avoids select, whose float
// form wazero v1.12.0 miscompiles (see floatSelect).
func (g *gen) canonicalize(t byte) {
	tmp, nan, ne := g.fTmp32, []byte{0x43, 0x00, 0x00, 0xc0, 0x7f}, byte(0x5c)
	if t == F64 {
		tmp, nan, ne = g.fTmp64, []byte{0x44, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f}, 0x62
	}
	g.emit(0x21)
	g.u32(uint32(tmp))
	for i := 0; i < 2; i++ {
		g.emit(0x20)
		g.u32(uint32(tmp))
	}
	g.emit(ne, 0x04, t)
	g.emit(nan...)
	g.emit(0x05, 0x20)
	g.u32(uint32(tmp))
	g.emit(0x0b)
}

// constant pushes a constant of a scalar type.
func (g *gen) constant(t byte) {
	edge := g.chance(30)
	switch t {
	case I32:
		g.emit(0x41)
		v := int64(int32(g.rnd.Uint32()))
		if edge {
			v = []int64{0, 1, -1, math.MinInt32, math.MaxInt32, 31, 32}[g.pick(7)]
		} else if g.chance(50) {
			v = int64(g.pick(100))
		}
		g.body = appendS64(g.body, v)
	case I64:
		g.emit(0x42)
		v := int64(g.rnd.Uint64())
		if edge {
			v = []int64{0, 1, -1, math.MinInt64, math.MaxInt64, 63, 64}[g.pick(7)]
		} else if g.chance(50) {
			v = int64(g.pick(1000))
		}
		g.body = appendS64(g.body, v)
	case F32:
		g.emit(0x43)
		v := float32(g.rnd.NormFloat64() * 100)
		if edge {
			v = []float32{0, -1, 0.5, float32(math.Inf(1)), 1e30, 3}[g.pick(6)]
		}
		b := math.Float32bits(v)
		g.body = append(g.body, byte(b), byte(b>>8), byte(b>>16), byte(b>>24))
	case F64:
		g.emit(0x44)
		v := g.rnd.NormFloat64() * 1e6
		if edge {
			v = []float64{0, -1, 0.5, math.Inf(-1), 1e300, 7}[g.pick(6)]
		}
		b := math.Float64bits(v)
		for i := 0; i < 8; i++ {
			g.body = append(g.body, byte(b>>(8*i)))
		}
	case V128:
		g.emit(0xfd, 0x0c)
		for i := 0; i < 16; i++ {
			g.body = append(g.body, byte(g.rnd.Uint32()))
		}
	}
}
