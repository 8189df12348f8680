package meter

import "fmt"

// scan decodes the expression of a function body from r, checks the indices the rewrite
// could turn valid, and records the edits.
//
// A metered region opens at the function entry, after every loop, if and else, after the
// end of a loop, after a join point (the end of an if, or of a block that a branch
// leaves) and after a br_if back to a loop header; it closes at the next of those or at
// br, br_table, return or unreachable, after which code is dead until the next region
// opens. A br_if out of a block does not close its region: the code after it is charged
// with the code before it, which overcharges a taken exit by the rest of the region but
// halves the charges of the common loop shape (a conditional exit at the top).
//
// Every region subtracts its cost, from the fuel local, when it starts; the local is
// written to the fuel global before every call, return, trap and branch out of the
// function, and read back after every call. Only loop headers, and the entries of
// functions that call, check the fuel: every iteration and every call, hence every way to
// run long, passes a check. Loops are wrapped so that their check branches out of the
// loop to the refill call and back in, which keeps the call out of the loop body: a call
// inside a loop makes wazero's register allocator spill the loop's variables on every
// iteration, doubling the cost of small loops.
func (w *funcRewriter) scan(r *reader) error {
	w.stack = append(w.stack[:0], frame{kind: frameFunc})
	w.edits = w.edits[:0]
	w.regions = w.regions[:0]
	w.tables = w.tables[:0]
	w.scratch, w.hasCalls = false, false
	w.startRegion(r.pos, checkEntry)
	for len(w.stack) > 0 {
		at := r.pos
		if err := w.step(r); err != nil {
			return fmt.Errorf("instruction at body offset %#x: %w", at, err)
		}
	}
	if r.len() != 0 {
		return fmt.Errorf("%d bytes after the end of the body: %w", r.len(), ErrMalformed)
	}
	return nil
}

// step decodes one instruction.
func (w *funcRewriter) step(r *reader) error {
	at := r.pos
	op, err := r.byte()
	if err != nil {
		return err
	}
	switch op {
	case opBlock, opLoop, opIf:
		btStart := r.pos
		params, err := w.blockType(r)
		if err != nil {
			return err
		}
		switch op {
		case opBlock:
			w.push(frame{kind: frameBlock})
		case opLoop:
			// A loop with parameters keeps its check inline: wrapping it would need
			// new block types.
			f := frame{kind: frameLoop, wrapped: !params}
			if f.wrapped {
				w.edits = append(w.edits, edit{pos: at, end: at, kind: editLoopPre, a: btStart, b: r.pos})
				f.region = w.startRegion(r.pos, checkLoop)
			} else {
				f.region = w.startRegion(r.pos, checkInline)
			}
			w.push(f)
		case opIf:
			w.charge(costBase)
			w.push(frame{kind: frameIf})
			w.startRegion(r.pos, checkNone)
		}
	case opElse:
		if top := w.stack[len(w.stack)-1]; top.kind != frameIf {
			return fmt.Errorf("else outside if: %w", ErrMalformed)
		}
		w.startRegion(r.pos, checkNone)
	case opEnd:
		top := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		if top.wrapped {
			w.edits = append(w.edits, edit{pos: r.pos, end: r.pos, kind: editLoopPost, val: uint32(top.region)})
		}
		switch {
		case len(w.stack) == 0:
			w.store(at) // the function returns
		case top.kind == frameIf || top.kind == frameBlock && top.targeted:
			w.startRegion(r.pos, checkNone) // a join point
		case top.kind == frameLoop && w.cur >= 0:
			w.startRegion(r.pos, checkNone) // runs once, not once per iteration
		}
	case opBr, opBrIf:
		immAt := r.pos
		l, err := r.u32()
		if err != nil {
			return err
		}
		d, err := w.branch(l)
		if err != nil {
			return err
		}
		if w.leavesFunction(l) {
			w.store(at)
		}
		if d != l {
			w.edits = append(w.edits, edit{pos: immAt, end: r.pos, kind: editDepth, val: d})
		}
		w.charge(costBase)
		switch {
		case op == opBr:
			w.cur = -1
		case w.stack[len(w.stack)-1-int(l)].kind == frameLoop:
			w.startRegion(r.pos, checkNone) // after a conditional back edge
		}
	case opBrTable:
		immAt := r.pos
		n, err := r.count(1)
		if err != nil {
			return err
		}
		first := len(w.tables)
		w.tables = append(w.tables, uint32(n))
		changed, leaves := false, false
		for i := 0; i <= n; i++ { // n targets and the default
			l, err := r.u32()
			if err != nil {
				return err
			}
			d, err := w.branch(l)
			if err != nil {
				return err
			}
			changed = changed || d != l
			leaves = leaves || w.leavesFunction(l)
			w.tables = append(w.tables, d)
		}
		if leaves {
			w.store(at)
		}
		if changed {
			w.edits = append(w.edits, edit{pos: immAt, end: r.pos, kind: editTable, val: uint32(first)})
		} else {
			w.tables = w.tables[:first]
		}
		w.charge(costBase)
		w.cur = -1
	case opReturn, opUnreachable:
		w.store(at) // an unreachable trap leaves the fuel spent up to it
		w.charge(costBase)
		w.cur = -1
	case opCall, opRefFunc:
		immAt := r.pos
		f, err := r.u32()
		if err != nil {
			return err
		}
		if err := w.p.checkFunc(f); err != nil {
			return err
		}
		if op == opCall {
			w.store(at)
		}
		w.edits = append(w.edits, edit{pos: immAt, end: r.pos, kind: editFunc, val: w.p.remapFunc(f)})
		if op == opCall {
			w.load(r.pos)
			w.hasCalls = true
			w.charge(costCall)
		} else {
			w.charge(costBase)
		}
	case opCallIndirect:
		t, err := r.u32()
		if err != nil {
			return err
		}
		if err := w.p.checkType(t); err != nil {
			return err
		}
		if _, err := r.u32(); err != nil { // table index
			return err
		}
		w.store(at)
		w.load(r.pos)
		w.hasCalls = true
		w.charge(costIndirect)
	case opMemoryGrow:
		if _, err := r.u32(); err != nil { // memory index
			return err
		}
		w.grow(at, r.pos, pageShift)
	case opPrefixMisc:
		return w.misc(r, at)
	case opPrefixSIMD:
		return w.simd(r)
	default:
		return w.plain(r, op)
	}
	return nil
}

// store records, at body offset pos, the write of the fuel local to the fuel global.
func (w *funcRewriter) store(pos int) {
	w.edits = append(w.edits, edit{pos: pos, end: pos, kind: editStore})
}

// load records, at body offset pos, the read of the fuel global into the fuel local.
func (w *funcRewriter) load(pos int) {
	w.edits = append(w.edits, edit{pos: pos, end: pos, kind: editLoad})
}

// leavesFunction reports whether a branch of (valid) depth l leaves the function.
func (w *funcRewriter) leavesFunction(l uint32) bool {
	return int(l) == len(w.stack)-1
}

// grow records a memory.grow or table.grow spanning [at, end): the count is saved before
// it and charged after it when the grow succeeded, since the work is done only then.
func (w *funcRewriter) grow(at, end int, shift uint32) {
	w.charge(costGrow)
	w.scratch = true
	w.edits = append(w.edits,
		edit{pos: at, end: at, kind: editGrowPre},
		edit{pos: end, end: end, kind: editGrowPost, val: shift})
}

// plain decodes a single-byte opcode without control-flow meaning.
func (w *funcRewriter) plain(r *reader, op byte) error {
	c, ok := plainCost(op)
	if !ok {
		return fmt.Errorf("opcode %#x: %w", op, ErrUnsupported)
	}
	w.charge(c)
	var err error
	switch {
	case op >= opLocalGet && op <= opLocalTee:
		err = w.local(r)
	case op == opGlobalGet || op == opGlobalSet:
		var g uint32
		if g, err = r.u32(); err == nil {
			err = w.p.checkGlobal(g)
		}
	case op == opTableGet || op == opTableSet:
		_, err = r.u32()
	case op >= 0x28 && op <= 0x3e:
		err = memarg(r)
	case op == opMemorySize:
		_, err = r.u32()
	case op == opI32Const:
		_, err = r.signed(32)
	case op == opI64Const:
		_, err = r.signed(64)
	case op == opF32Const:
		_, err = r.bytes(4)
	case op == opF64Const:
		_, err = r.bytes(8)
	case op == opSelectT:
		var n int
		if n, err = r.count(1); err == nil {
			for i := 0; i < n && err == nil; i++ {
				var t byte
				if t, err = r.byte(); err == nil && !valType(t) {
					err = fmt.Errorf("select type %#x: %w", t, ErrUnsupported)
				}
			}
		}
	case op == opRefNull:
		var t byte
		if t, err = r.byte(); err == nil && !refType(t) {
			err = fmt.Errorf("ref.null type %#x: %w", t, ErrUnsupported)
		}
	}
	return err
}

// misc decodes a 0xFC instruction: saturating truncations, bulk memory and table ops.
func (w *funcRewriter) misc(r *reader, at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	imms := 0
	switch {
	case sub <= 7: // i32/i64.trunc_sat_f32/f64_s/u
		w.charge(costBase)
		return nil
	case sub == miscDataDrop || sub == miscElemDrop || sub == miscTableSize:
		w.charge(costBase)
		imms = 1
	case sub == miscMemoryInit || sub == miscMemoryCopy || sub == miscTableInit || sub == miscTableCopy:
		imms = 2
	case sub == miscMemoryFill:
		imms = 1
	case sub == miscTableFill || sub == miscTableGrow:
		imms = 1
	default:
		return fmt.Errorf("opcode 0xfc %d: %w", sub, ErrUnsupported)
	}
	for i := 0; i < imms; i++ {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	switch sub {
	case miscMemoryInit, miscMemoryCopy, miscMemoryFill:
		w.bulk(at, bulkByteShift)
	case miscTableInit, miscTableCopy, miscTableFill:
		w.bulk(at, elemShift)
	case miscTableGrow:
		w.grow(at, r.pos, elemShift)
	}
	return nil
}

// bulk records a fill, copy or init at body offset at, whose count operand is on top of
// the stack: (count >> shift) units are subtracted and checked before the operation, so
// a guest cannot pay for a long run of them after the fact.
func (w *funcRewriter) bulk(at int, shift uint32) {
	w.charge(costBulk)
	w.scratch = true
	w.edits = append(w.edits, edit{pos: at, end: at, kind: editBulk, val: shift})
}

// simd decodes a 0xFD instruction and its immediates.
func (w *funcRewriter) simd(r *reader) error {
	sub, err := readSIMDOpcode(r)
	if err != nil {
		return err
	}
	c, ok := simdCost(sub)
	if !ok {
		return fmt.Errorf("opcode 0xfd %#x: %w", sub, ErrUnsupported)
	}
	w.charge(c)
	switch simdImmediates(sub) {
	case simdMemarg:
		return memarg(r)
	case simdMemLane:
		if err := memarg(r); err != nil {
			return err
		}
		_, err = r.byte()
	case simdLane:
		_, err = r.byte()
	case simdBytes16:
		_, err = r.bytes(16)
	}
	return err
}
