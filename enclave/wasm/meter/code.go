package meter

import (
	"fmt"
	"math"
)

// frameKind is the kind of an open control structure.
type frameKind uint8

const (
	frameFunc frameKind = iota
	frameBlock
	frameLoop
	frameIf
)

// frame is an open control structure.
type frame struct {
	kind     frameKind
	targeted bool // a branch leaves it: the code after its end is a join point
	wrapped  bool // a loop wrapped in the three blocks of its out-of-line refill path
	crossed  int  // wrapped loops from the function frame up to and including this one
	region   int  // for a loop: its header region
}

// checkKind says how a region's charge is checked.
type checkKind uint8

const (
	checkNone   checkKind = iota // subtract only; a later check catches a deficit
	checkEntry                   // function entry: checked inline if the function calls
	checkLoop                    // wrapped loop header: branch to the out-of-line refill
	checkInline                  // loop header that cannot be wrapped: checked inline
)

// region is a metered region: its static cost and how its charge is checked.
type region struct {
	cost  uint64
	check checkKind
}

// editKind says what the emitter does at an edit's position.
type editKind uint8

const (
	editRegion   editKind = iota // insert the charge of region val
	editFunc                     // replace [pos, end) by the function index val
	editDepth                    // replace [pos, end) by the branch depth val
	editTable                    // replace [pos, end) by the br_table labels at tables[val:]
	editBulk                     // insert a dynamic charge of (count >> val) before a bulk op
	editGrowPre                  // save the grow count (memory.grow, table.grow)
	editGrowPost                 // charge (count << val) if the grow succeeded
	editLoopPre                  // open the wrapper blocks, with the loop's block type body[a:b]
	editLoopPost                 // close the wrapper blocks: refill path of region val
	editStore                    // write the fuel local to the fuel global
	editLoad                     // read the fuel global into the fuel local
)

type edit struct {
	pos, end int
	kind     editKind
	val      uint32
	a, b     int
}

// funcRewriter rewrites function bodies. It is reused across the functions of a module to
// keep allocations proportional to the largest body.
type funcRewriter struct {
	p        *plan
	stack    []frame
	edits    []edit
	regions  []region
	tables   []uint32 // relabelled br_table vectors: count, labels..., default
	cur      int      // open region, -1 in unreachable code
	scratch  bool     // a bulk or grow instruction needs the i32 scratch local
	hasCalls bool
	numLoc   uint64
}

// startRegion opens a metered region at body offset pos: its charge, inserted there,
// covers the static cost of the code up to the next region boundary.
func (w *funcRewriter) startRegion(pos int, check checkKind) int {
	w.cur = len(w.regions)
	w.regions = append(w.regions, region{check: check})
	w.edits = append(w.edits, edit{pos: pos, end: pos, kind: editRegion, val: uint32(w.cur)})
	return w.cur
}

func (w *funcRewriter) charge(c uint32) {
	if w.cur >= 0 {
		w.regions[w.cur].cost += uint64(c)
	}
}

// push opens a control frame.
func (w *funcRewriter) push(f frame) {
	f.crossed = w.stack[len(w.stack)-1].crossed
	if f.wrapped {
		f.crossed++
	}
	w.stack = append(w.stack, f)
}

// branch checks a branch depth, marks the frame it leaves and returns the depth in the
// output, where every wrapped loop crossed adds its three blocks.
func (w *funcRewriter) branch(l uint32) (uint32, error) {
	if uint64(l) >= uint64(len(w.stack)) {
		return 0, fmt.Errorf("branch depth %d beyond %d open blocks: %w", l, len(w.stack), ErrMalformed)
	}
	target := len(w.stack) - 1 - int(l)
	w.stack[target].targeted = true
	crossed := w.stack[len(w.stack)-1].crossed - w.stack[target].crossed
	return l + 3*uint32(crossed), nil
}

func (w *funcRewriter) local(r *reader) error {
	l, err := r.u32()
	if err != nil {
		return err
	}
	if uint64(l) >= w.numLoc {
		return fmt.Errorf("local index %d out of range (%d locals): %w", l, w.numLoc, ErrMalformed)
	}
	return nil
}

// blockType reads a block type (empty, one value type, or a type index) and reports
// whether the block takes parameters.
func (w *funcRewriter) blockType(r *reader) (params bool, err error) {
	if r.len() > 0 {
		if b := r.b[r.pos]; b == blockEmpty || valType(b) {
			r.pos++
			return false, nil
		}
	}
	t, err := r.signed(33)
	if err != nil {
		return false, err
	}
	if t < 0 {
		return false, fmt.Errorf("block type %d at %#x: %w", t, r.pos, ErrUnsupported)
	}
	if t > math.MaxUint32 {
		return false, fmt.Errorf("block type %d at %#x: %w", t, r.pos, ErrMalformed)
	}
	if err := w.p.checkType(uint32(t)); err != nil {
		return false, err
	}
	return w.p.typeParams[t] > 0, nil
}

func memarg(r *reader) error {
	if _, err := r.u32(); err != nil { // alignment, validated by wazero
		return err
	}
	_, err := r.u32() // offset
	return err
}

// rewrite appends the metered version of one code entry (size-prefixed) to out. body is
// the entry without its size: locals then the expression.
func (w *funcRewriter) rewrite(out, body []byte, typ uint32) ([]byte, error) {
	r := &reader{b: body}
	nDecl, err := r.count(2)
	if err != nil {
		return nil, fmt.Errorf("locals: %w", err)
	}
	declStart := r.pos
	w.numLoc = uint64(w.p.typeParams[typ])
	for i := 0; i < nDecl; i++ {
		k, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("locals: %w", err)
		}
		vt, err := r.byte()
		if err != nil {
			return nil, fmt.Errorf("locals: %w", err)
		}
		if !valType(vt) {
			return nil, fmt.Errorf("local type %#x: %w", vt, ErrUnsupported)
		}
		w.numLoc += uint64(k)
	}
	if w.numLoc >= math.MaxUint32 {
		return nil, fmt.Errorf("locals: %d locals: %w", w.numLoc, ErrMalformed)
	}
	localsEnd := r.pos
	if err := w.scan(r); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, len(body)+len(w.edits)*24+16)
	// The added locals follow the function's own: the fuel local (i64), then the
	// scratch local (i32) when a bulk or grow instruction needs it.
	added := uint32(1)
	if w.scratch {
		added++
	}
	buf = appendU32(buf, uint32(nDecl)+added)
	buf = append(buf, body[declStart:localsEnd]...)
	buf = append(buf, 0x01, 0x7e)
	if w.scratch {
		buf = append(buf, 0x01, 0x7f)
	}
	buf = w.loadFuel(buf)
	buf = w.emit(buf, body, localsEnd)
	if !fitsU32(len(buf)) {
		return nil, fmt.Errorf("metered body of %d bytes: %w", len(buf), ErrTooLarge)
	}
	out = appendU32(out, uint32(len(buf)))
	return append(out, buf...), nil
}

// emit appends the expression body[from:] with the edits applied.
func (w *funcRewriter) emit(buf, body []byte, from int) []byte {
	scratch := w.scratchLocal()
	last := from
	for _, e := range w.edits {
		buf = append(buf, body[last:e.pos]...)
		last = e.end
		switch e.kind {
		case editRegion:
			buf = w.emitRegion(buf, w.regions[e.val])
		case editFunc, editDepth:
			buf = appendU32(buf, e.val)
		case editTable:
			n := w.tables[e.val]
			for _, l := range w.tables[e.val : e.val+n+2] {
				buf = appendU32(buf, l)
			}
		case editBulk:
			// fuel -= count >> val, checked at once: straight-line code may hold many
			// bulk operations, each as long as the memory.
			buf = append(buf, opLocalTee)
			buf = appendU32(buf, scratch)
			buf = append(buf, opLocalGet)
			buf = appendU32(buf, w.fuelLocal())
			buf = append(buf, opLocalGet)
			buf = appendU32(buf, scratch)
			buf = append(buf, opI64ExtendI32)
			if e.val > 0 {
				buf = append(buf, opI64Const, byte(e.val), opI64ShrU)
			}
			buf = append(buf, opI64Sub, opLocalSet)
			buf = appendU32(buf, w.fuelLocal())
			buf = w.checkInline(buf, 0)
		case editGrowPre:
			buf = append(buf, opLocalTee)
			buf = appendU32(buf, scratch)
		case editGrowPost:
			buf = append(buf, opLocalGet)
			buf = appendU32(buf, scratch)
			buf = append(buf, opI64ExtendI32)
			if e.val > 0 {
				buf = append(buf, opI64Const, byte(e.val), opI64Shl)
			}
			buf = w.callHelper(buf, w.p.fnGrow)
		case editLoopPre:
			bt := body[e.a:e.b]
			buf = append(buf, opBlock)
			buf = append(buf, bt...)
			buf = append(buf, opLoop)
			buf = append(buf, bt...)
			buf = append(buf, opBlock, blockEmpty)
		case editLoopPost:
			// br $exit; end $cold; refill(cost); br $restart; end $restart; end $exit
			buf = append(buf, opBr, 0x02, opEnd, opI64Const)
			buf = appendS64(buf, int64(w.regions[e.val].cost))
			buf = w.callHelper(buf, w.p.fnRefill)
			buf = append(buf, opBr, 0x00, opEnd, opEnd)
		case editStore:
			buf = w.storeFuel(buf)
		case editLoad:
			buf = w.loadFuel(buf)
		}
	}
	return append(buf, body[last:]...)
}

// emitRegion appends the charge of a region.
func (w *funcRewriter) emitRegion(buf []byte, rg region) []byte {
	switch rg.check {
	case checkLoop:
		buf = w.checkBranch(buf, rg.cost)
	case checkInline:
		buf = w.checkInline(buf, rg.cost)
	case checkEntry:
		if w.hasCalls && rg.cost > 0 {
			buf = w.checkInline(buf, rg.cost)
		}
	}
	return w.subtract(buf, rg.cost)
}
