package metertest

// stmt emits code that leaves the stack as it found it.
func (g *gen) stmt() {
	if g.depth >= maxDepth {
		g.simpleStmt()
		return
	}
	g.depth++
	defer func() { g.depth-- }()
	switch g.pick(16) {
	case 0, 1, 2:
		g.simpleStmt()
	case 3:
		g.ifElse(nil)
	case 4:
		g.block(nil)
	case 5, 6:
		g.loop()
	case 7:
		g.branch()
	case 8:
		g.brTable()
	case 9:
		if j := g.callee(); j >= 0 {
			for range g.call(j) {
				g.emit(0x1a)
			}
		}
	case 10:
		g.bulkMemory()
	case 11:
		g.tableOp()
	case 12:
		if g.chance(15) { // return from the function, with its results
			for _, t := range g.labels[0].types {
				g.expr(t)
			}
			g.emit(0x0f)
		}
	case 13:
		if g.chance(20) { // a rare trap behind a condition
			g.expr(I32)
			g.emit(0x41, 0x07, 0x71, 0x45, 0x04, 0x40, 0x00, 0x0b) // (x & 7) == 0: unreachable
		}
	default:
		g.simpleStmt()
	}
}

// simpleStmt sets a local or global, stores, or drops a value.
func (g *gen) simpleStmt() {
	t := g.scalar()
	if g.cfg.SIMD && g.chance(15) {
		t = V128
	}
	switch g.pick(4) {
	case 0:
		if l, ok := g.localOf(t); ok {
			g.expr(t)
			g.emit(0x21)
			g.u32(uint32(l))
			return
		}
	case 1:
		if gl, ok := g.globalOf(t); ok {
			g.expr(t)
			g.emit(0x24)
			g.u32(uint32(gl))
			return
		}
	case 2:
		g.address()
		g.expr(t)
		if t == V128 {
			if g.chance(50) {
				g.emit(0xfd, 0x0b) // v128.store
				g.memarg(4, uint32(g.pick(8)))
			} else {
				op := 0x58 + g.pick(4) // store*_lane
				g.emit(0xfd, byte(op))
				g.memarg(0, uint32(g.pick(8)))
				g.body = append(g.body, byte(g.pick(16>>(op-0x58))))
			}
			return
		}
		if t == F32 || t == F64 {
			g.canonicalize(t)
		}
		s := stores[t][g.pick(len(stores[t]))]
		g.emit(s[0])
		g.memarg(uint32(s[1]), uint32(g.pick(16)))
		return
	}
	g.expr(t)
	g.emit(0x1a) // drop
}

// blockType emits the type of a block with the given params and results.
func (g *gen) blockType(params, results []byte) {
	switch {
	case len(params) == 0 && len(results) == 0:
		g.body = append(g.body, 0x40)
	case len(params) == 0 && len(results) == 1:
		g.body = append(g.body, results[0])
	default:
		g.body = appendS64(g.body, int64(g.typeIndex(sig{params, results})))
	}
}

// maybeParams picks block parameters (multi-value) and pushes them.
func (g *gen) maybeParams() []byte {
	if !g.chance(20) {
		return nil
	}
	p := []byte{g.scalar()}
	g.expr(p[0])
	return p
}

// consumeParams uses up block parameters at the start of a block.
func (g *gen) consumeParams(params []byte) {
	for range params {
		g.emit(0x1a)
	}
}

// ifElse emits an if with an else arm, producing results.
func (g *gen) ifElse(results []byte) {
	if g.chance(15) && len(results) == 1 {
		results = append(results, g.scalar()) // multi-value, the extra value dropped after
	}
	params := g.maybeParams()
	g.expr(I32)
	g.emit(0x04)
	g.blockType(params, results)
	g.labels = append(g.labels, label{types: results})
	for arm := 0; arm < 2; arm++ {
		if arm == 1 {
			g.emit(0x05)
		}
		g.consumeParams(params)
		for n := g.pick(3); n > 0; n-- {
			g.stmt()
		}
		for _, t := range results {
			g.expr(t)
		}
		if arm == 0 && len(results) == 0 && len(params) == 0 && g.chance(30) {
			break // if without else
		}
	}
	g.emit(0x0b)
	g.labels = g.labels[:len(g.labels)-1]
	if len(results) == 2 {
		g.emit(0x1a)
	}
}

// block emits a block producing results, whose statements may branch out of it.
func (g *gen) block(results []byte) {
	params := g.maybeParams()
	g.emit(0x02)
	g.blockType(params, results)
	g.labels = append(g.labels, label{types: results})
	g.consumeParams(params)
	for n := 1 + g.pick(3); n > 0; n-- {
		g.stmt()
	}
	for _, t := range results {
		g.expr(t)
	}
	g.emit(0x0b)
	g.labels = g.labels[:len(g.labels)-1]
}

// loop emits a counted loop: a private counter local counts down from a small number
// and is the only way back to the loop header.
func (g *gen) loop() {
	c := g.newLocal(I32)
	g.emit(0x41, byte(1+g.pick(4)), 0x21) // counter = 1..4
	g.u32(uint32(c))
	g.emit(0x03, 0x40)
	g.labels = append(g.labels, label{loop: true})
	for n := 1 + g.pick(3); n > 0; n-- {
		g.stmt()
	}
	g.labels = g.labels[:len(g.labels)-1]
	// br_if 0 (counter = counter - 1) != 0
	g.emit(0x20)
	g.u32(uint32(c))
	g.emit(0x41, 0x01, 0x6b, 0x22)
	g.u32(uint32(c))
	g.emit(0x0d, 0x00, 0x0b)
}

// target picks an enclosing non-loop label and returns its depth.
func (g *gen) target(wantEmpty bool) (int, bool) {
	var c []int
	for d := 0; d < len(g.labels); d++ {
		l := g.labels[len(g.labels)-1-d]
		if l.loop || wantEmpty && len(l.types) > 0 {
			continue
		}
		c = append(c, d)
	}
	if len(c) == 0 {
		return 0, false
	}
	return c[g.pick(len(c))], true
}

// branch emits a br_if (or rarely a br) out of an enclosing block.
func (g *gen) branch() {
	d, ok := g.target(false)
	if !ok {
		return
	}
	types := g.labels[len(g.labels)-1-d].types
	for _, t := range types {
		g.expr(t)
	}
	if g.chance(10) {
		g.emit(0x0c)
		g.u32(uint32(d))
		return
	}
	g.expr(I32)
	g.emit(0x0d)
	g.u32(uint32(d))
	for range types {
		g.emit(0x1a)
	}
}

// brTable emits a br_table over enclosing blocks without branch values, or wraps itself
// in fresh blocks when there are none.
func (g *gen) brTable() {
	var ds []int
	for d := 0; d < len(g.labels); d++ {
		l := g.labels[len(g.labels)-1-d]
		if !l.loop && len(l.types) == 0 {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return
	}
	g.expr(I32)
	n := 1 + g.pick(4)
	g.emit(0x0e)
	g.u32(uint32(n))
	for i := 0; i <= n; i++ {
		g.u32(uint32(ds[g.pick(len(ds))]))
	}
}

// bulkMemory emits memory.fill, memory.copy, memory.init or data.drop within bounds.
func (g *gen) bulkMemory() {
	switch g.pick(4) {
	case 0:
		g.address()
		g.expr(I32)
		g.emit(0x41)
		g.body = appendS64(g.body, int64(g.pick(300)))
		g.emit(0xfc, 11, 0x00) // memory.fill
	case 1:
		g.address()
		g.address()
		g.emit(0x41)
		g.body = appendS64(g.body, int64(g.pick(300)))
		g.emit(0xfc, 10, 0x00, 0x00) // memory.copy
	case 2:
		g.address()
		n := g.pick(passBytes + 1)
		g.emit(0x41, byte(g.pick(passBytes-n+1)), 0x41, byte(n))
		g.emit(0xfc, 8, 0x01, 0x00) // memory.init of the passive segment 1
	case 3:
		if g.chance(10) {
			g.emit(0xfc, 9, 0x01) // data.drop: later inits of a non-empty range trap
		}
	}
}

// tableOp emits table instructions that keep slot j holding function j or null, so that
// call_indirect never recurses.
func (g *gen) tableOp() {
	total := len(g.funcTypes)
	switch g.pick(7) {
	case 0: // table.init from the passive copy of the layout, in place
		k := g.pick(total)
		n := g.pick(total - k + 1)
		g.i32(k, k, n)
		g.emit(0xfc, 12, 0x01, 0x00)
	case 1: // table.copy in place
		k := g.pick(total)
		n := g.pick(total - k + 1)
		g.i32(k, k, n)
		g.emit(0xfc, 14, 0x00, 0x00)
	case 2: // clear some slots
		k := g.pick(g.tableSize)
		n := g.pick(g.tableSize - k + 1)
		g.i32(k)
		g.emit(0xd0, 0x70)
		g.i32(n)
		g.emit(0xfc, 17, 0x00)
	case 3: // restore the slot of the funcref global
		g.i32(g.frefFunc)
		g.emit(0x23)
		g.u32(uint32(g.frefGlobal))
		g.emit(0x26, 0x00)
	case 4: // ref.func into its own slot
		j := g.pick(total)
		g.i32(j)
		g.emit(0xd2)
		g.u32(uint32(j))
		g.emit(0x26, 0x00)
	case 5: // externref table
		g.emit(0xd0, 0x6f, 0x41, byte(g.pick(3)), 0xfc, 15, 0x01, 0x1a) // table.grow 1, drop
		g.emit(0x41, 0x00, 0xd0, 0x6f, 0xfc, 16, 0x01, 0xfc, 17, 0x01)  // table.fill 1 0 null size
	case 6:
		if g.chance(10) {
			g.emit(0xfc, 13, 0x01) // elem.drop of the passive segment
		}
	}
}
