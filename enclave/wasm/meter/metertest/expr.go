package metertest

// floatSelect enables select on f32, f64 and v128 values. wazero v1.12.0's amd64
// compiler miscompiles it when a register is short (the destination of its xmmCMov is
// not declared a use: wazero issue 2534, fixed by pull request 2535 after v1.12.0), so a
// differential test would report wazero's bug, not the rewriter's. Enable it once the
// project runs a wazero with that fix.
const floatSelect = false

// Opcode groups of generated code, by operand and result type.
var (
	unaryOps = map[byte][]byte{
		I32: {0x45, 0x67, 0x68, 0x69, 0xc0, 0xc1},
		I64: {0x79, 0x7a, 0x7b, 0xc2, 0xc3, 0xc4},
		F32: {0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91},
		F64: {0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f},
	}
	binaryOps = map[byte][]byte{
		I32: {0x6a, 0x6b, 0x6c, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78},
		I64: {0x7c, 0x7d, 0x7e, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a},
		F32: {0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98},
		F64: {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6},
	}
	divOps = map[byte][]byte{I32: {0x6d, 0x6e, 0x6f, 0x70}, I64: {0x7f, 0x80, 0x81, 0x82}}
	// compareOps yield an i32 from two operands of the key type.
	compareOps = map[byte][]byte{
		I32: {0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f},
		I64: {0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a},
		F32: {0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60},
		F64: {0x61, 0x62, 0x63, 0x64, 0x65, 0x66},
	}
	loads = map[byte][][3]byte{ // opcode, natural alignment, width
		I32: {{0x28, 2, 4}, {0x2c, 0, 1}, {0x2d, 0, 1}, {0x2e, 1, 2}, {0x2f, 1, 2}},
		I64: {{0x29, 3, 8}, {0x30, 0, 1}, {0x31, 0, 1}, {0x32, 1, 2}, {0x33, 1, 2}, {0x34, 2, 4}, {0x35, 2, 4}},
		F32: {{0x2a, 2, 4}},
		F64: {{0x2b, 3, 8}},
	}
	stores = map[byte][][2]byte{
		I32: {{0x36, 2}, {0x3a, 0}, {0x3b, 1}},
		I64: {{0x37, 3}, {0x3c, 0}, {0x3d, 1}, {0x3e, 2}},
		F32: {{0x38, 2}},
		F64: {{0x39, 3}},
	}
)

// conversion describes an instruction from one scalar type to another.
type conversion struct {
	from  byte
	op    []byte
	traps bool
}

var conversions = map[byte][]conversion{
	I32: {
		{I64, []byte{0xa7}, false}, {F32, []byte{0xfc, 0}, false}, {F32, []byte{0xfc, 1}, false},
		{F64, []byte{0xfc, 2}, false}, {F64, []byte{0xfc, 3}, false}, {F32, []byte{0xa8}, true},
		{F64, []byte{0xab}, true}, {F32, []byte{0xbc}, false},
	},
	I64: {
		{I32, []byte{0xac}, false}, {I32, []byte{0xad}, false}, {F32, []byte{0xfc, 4}, false},
		{F64, []byte{0xfc, 7}, false}, {F64, []byte{0xb0}, true}, {F64, []byte{0xbd}, false},
	},
	F32: {
		{I32, []byte{0xb2}, false}, {I64, []byte{0xb5}, false}, {F64, []byte{0xb6}, false},
		{I32, []byte{0xbe}, false},
	},
	F64: {
		{I32, []byte{0xb8}, false}, {I64, []byte{0xb9}, false}, {F32, []byte{0xbb}, false},
		{I64, []byte{0xbf}, false},
	},
}

// expr emits code that pushes exactly one value of type t.
func (g *gen) expr(t byte) {
	if g.budget <= 0 || g.depth >= maxDepth {
		g.leaf(t)
		return
	}
	g.depth++
	defer func() { g.depth-- }()
	if t == V128 {
		g.vexpr()
		return
	}
	switch g.pick(14) {
	case 0:
		g.leaf(t)
	case 1:
		g.expr(t)
		ops := unaryOps[t]
		g.emit(ops[g.pick(len(ops))])
	case 2, 3:
		g.expr(t)
		g.expr(t)
		ops := binaryOps[t]
		g.emit(ops[g.pick(len(ops))])
	case 4:
		if d, ok := divOps[t]; ok {
			g.expr(t)
			g.expr(t)
			if g.chance(80) { // avoid division by zero most of the time
				g.constant(t)
				g.emit(map[byte]byte{I32: 0x72, I64: 0x84}[t]) // or: x | c, zero only if c is
			}
			g.emit(d[g.pick(len(d))])
			return
		}
		g.leaf(t)
	case 5:
		if t == I32 {
			u := g.scalar()
			g.expr(u)
			g.expr(u)
			ops := compareOps[u]
			g.emit(ops[g.pick(len(ops))])
			return
		}
		g.leaf(t)
	case 6:
		c := conversions[t][g.pick(len(conversions[t]))]
		if c.traps && !g.chance(20) {
			g.leaf(t)
			return
		}
		g.expr(c.from)
		if c.from == F32 || c.from == F64 {
			g.canonicalize(c.from) // reinterpret would expose NaN payloads
		}
		g.emit(c.op...)
	case 7:
		l := loads[t][g.pick(len(loads[t]))]
		g.address()
		g.emit(l[0])
		g.memarg(uint32(l[1]), uint32(g.pick(16)))
	case 8:
		if j := g.callee(); j >= 0 && g.returnsOnly(j, t) {
			g.call(j)
			return
		}
		g.leaf(t)
	case 9:
		if !floatSelect && (t == F32 || t == F64) {
			g.leaf(t)
			return
		}
		g.expr(t)
		g.expr(t)
		g.expr(I32)
		if g.chance(50) {
			g.emit(0x1c, 1, t) // typed select
		} else {
			g.emit(0x1b)
		}
	case 10:
		g.ifElse([]byte{t})
	case 11:
		g.block([]byte{t})
	case 12:
		if l, ok := g.localOf(t); ok {
			g.expr(t)
			g.emit(0x22)
			g.u32(uint32(l))
			return
		}
		g.leaf(t)
	case 13:
		g.misc(t)
	}
}

func (g *gen) returnsOnly(j int, t byte) bool {
	r := g.types[g.funcTypes[j]].results
	return len(r) == 1 && r[0] == t
}

// leaf pushes a constant, a local or a global of type t.
func (g *gen) leaf(t byte) {
	switch g.pick(3) {
	case 0:
		if l, ok := g.localOf(t); ok {
			g.emit(0x20)
			g.u32(uint32(l))
			return
		}
	case 1:
		if t == I32 && g.numImpGlob > 0 && g.chance(30) {
			g.emit(0x23, 0) // the imported global
			return
		}
		if gl, ok := g.globalOf(t); ok {
			g.emit(0x23)
			g.u32(uint32(gl))
			return
		}
	}
	g.constant(t)
}

// misc covers memory, table and reference instructions and SIMD lane extraction.
func (g *gen) misc(t byte) {
	switch {
	case t == I32 && g.chance(25):
		g.emit(0x3f, 0x00) // memory.size
	case t == I32 && g.chance(25):
		g.emit(0x41, byte(g.pick(2)), 0x40, 0x00) // memory.grow 0 or 1
	case t == I32 && g.chance(30):
		g.emit(0xfc, 16)
		g.u32(uint32(g.pick(2))) // table.size
	case t == I32 && g.chance(50):
		g.emit(0x41)
		g.body = appendS64(g.body, int64(g.pick(g.tableSize)))
		g.emit(0x25, 0x00, 0xd1) // table.get 0, ref.is_null
	case t == I32 && g.cfg.SIMD:
		g.vexpr()
		switch g.pick(4) {
		case 0:
			g.emit(0xfd, 0x53) // v128.any_true
		case 1:
			g.emit(0xfd, 0x64) // i8x16.bitmask
		case 2:
			g.emit(0xfd, 0x15, byte(g.pick(16))) // i8x16.extract_lane_s
		default:
			g.emit(0xfd, 0x1b, byte(g.pick(4))) // i32x4.extract_lane
		}
	case t == I64 && g.cfg.SIMD:
		g.vexpr()
		if g.chance(50) {
			g.emit(0xfd, 0x1d, byte(g.pick(2))) // i64x2.extract_lane
		} else {
			g.emit(0xfd, 0xc4, 0x01, 0xad) // i64x2.bitmask, i64.extend_i32_u
		}
	default:
		g.leaf(t)
	}
}

// vexpr pushes a v128 computed with integer and bitwise SIMD (no float lanes, whose NaN
// payloads could differ between compilations).
func (g *gen) vexpr() {
	if g.budget <= 0 || g.depth >= maxDepth || g.chance(20) {
		if l, ok := g.localOf(V128); ok && g.chance(50) {
			g.emit(0x20)
			g.u32(uint32(l))
			return
		}
		g.constant(V128)
		return
	}
	g.depth++
	defer func() { g.depth-- }()
	switch g.pick(9) {
	case 0: // splat
		if g.chance(75) {
			g.expr(I32)
			g.emit(0xfd, []byte{0x0f, 0x10, 0x11}[g.pick(3)])
		} else {
			g.expr(I64)
			g.emit(0xfd, 0x12)
		}
	case 1: // binary
		g.vexpr()
		g.vexpr()
		ops := [][]byte{{0x6e}, {0x71}, {0x8e, 0x01}, {0x95, 0x01}, {0xae, 0x01}, {0xb1, 0x01}, {0xb5, 0x01},
			{0xce, 0x01}, {0xd5, 0x01}, {0x4e}, {0x50}, {0x51}, {0x4f}, {0x23}, {0x39}, {0x77},
			{0x9b, 0x01}, {0xba, 0x01}, {0x65}, {0x9c, 0x01}, {0xdf, 0x01}, {0x0e}}
		g.emit(0xfd)
		g.emit(ops[g.pick(len(ops))]...)
	case 2: // unary
		g.vexpr()
		ops := [][]byte{{0x4d}, {0x60}, {0x61}, {0x62}, {0x87, 0x01}, {0xaa, 0x01}, {0xc1, 0x01}, {0x7c}}
		g.emit(0xfd)
		g.emit(ops[g.pick(len(ops))]...)
	case 3: // shift
		g.vexpr()
		g.expr(I32)
		ops := [][]byte{{0x6b}, {0xac, 0x01}, {0xcd, 0x01}}
		g.emit(0xfd)
		g.emit(ops[g.pick(len(ops))]...)
	case 4: // shuffle
		g.vexpr()
		g.vexpr()
		g.emit(0xfd, 0x0d)
		for i := 0; i < 16; i++ {
			g.body = append(g.body, byte(g.pick(32)))
		}
	case 5: // replace lane
		g.vexpr()
		if g.chance(50) {
			g.expr(I32)
			g.emit(0xfd, 0x17, byte(g.pick(16)))
		} else {
			g.expr(I64)
			g.emit(0xfd, 0x1e, byte(g.pick(2)))
		}
	case 6: // load
		g.address()
		op := []byte{0x00, 0x01, 0x06, 0x07, 0x0a, 0x5c, 0x5d}[g.pick(7)]
		g.emit(0xfd, op)
		g.memarg(0, uint32(g.pick(8)))
	case 7: // load lane
		g.address()
		g.vexpr()
		op := 0x54 + g.pick(4)
		g.emit(0xfd, byte(op))
		g.memarg(0, uint32(g.pick(8)))
		g.body = append(g.body, byte(g.pick(16>>(op-0x54))))
	case 8:
		g.vexpr()
		g.vexpr()
		g.vexpr()
		g.emit(0xfd, 0x52) // bitselect
	}
}
