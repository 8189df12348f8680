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

// frame is an open control structure; targeted records whether a branch leaves it, which
// makes the code after its end a join point.
type frame struct {
	kind     frameKind
	targeted bool
}

// editKind says what the emitter does at an edit's position.
type editKind uint8

const (
	editCharge   editKind = iota // insert the static charge of region val
	editFunc                     // replace [pos, end) by the function index val
	editBulk                     // insert a dynamic charge of (count >> val) before a bulk op
	editGrowPre                  // save the grow count (memory.grow, table.grow)
	editGrowPost                 // charge (count << val) if the grow succeeded
)

type edit struct {
	pos, end int
	kind     editKind
	val      uint32
}

// funcRewriter rewrites function bodies. It is reused across the functions of a module to
// keep allocations proportional to the largest body.
type funcRewriter struct {
	p      *plan
	stack  []frame
	edits  []edit
	costs  []uint64
	cur    int // index in costs of the open region, -1 in unreachable code
	needs  bool
	numLoc uint64
}

// startRegion opens a metered region at body offset pos: a charge is inserted there for
// the static cost of the straight-line code that follows, up to the next branch point.
func (w *funcRewriter) startRegion(pos int) {
	w.cur = len(w.costs)
	w.costs = append(w.costs, 0)
	w.edits = append(w.edits, edit{pos: pos, end: pos, kind: editCharge, val: uint32(w.cur)})
}

func (w *funcRewriter) charge(c uint32) {
	if w.cur >= 0 {
		w.costs[w.cur] += uint64(c)
	}
}

// target marks the frame a branch of depth l leaves.
func (w *funcRewriter) target(l uint32) error {
	if uint64(l) >= uint64(len(w.stack)) {
		return fmt.Errorf("branch depth %d beyond %d open blocks: %w", l, len(w.stack), ErrMalformed)
	}
	w.stack[len(w.stack)-1-int(l)].targeted = true
	return nil
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

// blockType reads a block type: empty, one value type, or a type index.
func (w *funcRewriter) blockType(r *reader) error {
	if r.len() > 0 {
		if b := r.b[r.pos]; b == blockEmpty || valType(b) {
			r.pos++
			return nil
		}
	}
	t, err := r.signed(33)
	if err != nil {
		return err
	}
	if t < 0 {
		return fmt.Errorf("block type %d at %#x: %w", t, r.pos, ErrUnsupported)
	}
	if t > math.MaxUint32 {
		return fmt.Errorf("block type %d at %#x: %w", t, r.pos, ErrMalformed)
	}
	return w.p.checkType(uint32(t))
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

	// Emit: the locals (plus one i32 scratch local when a dynamic charge needs it), then
	// the expression with the edits applied.
	buf := make([]byte, 0, len(body)+len(w.edits)*20+8)
	if w.needs {
		buf = appendU32(buf, uint32(nDecl)+1)
		buf = append(buf, body[declStart:localsEnd]...)
		buf = append(buf, 0x01, 0x7f)
	} else {
		buf = append(buf, body[:localsEnd]...)
	}
	scratch := uint32(w.numLoc)
	last := localsEnd
	for _, e := range w.edits {
		buf = append(buf, body[last:e.pos]...)
		last = e.end
		switch e.kind {
		case editCharge:
			if c := w.costs[e.val]; c > 0 {
				buf = w.p.appendCharge(buf, c)
			}
		case editFunc:
			buf = appendU32(buf, e.val)
		case editBulk:
			buf = append(buf, opLocalTee)
			buf = appendU32(buf, scratch)
			buf = append(buf, opLocalGet)
			buf = appendU32(buf, scratch)
			buf = append(buf, opI64ExtendI32)
			if e.val > 0 {
				buf = append(buf, opI64Const, byte(e.val), opI64ShrU)
			}
			buf = append(buf, opCall)
			buf = appendU32(buf, w.p.fnCharge)
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
			buf = append(buf, opCall)
			buf = appendU32(buf, w.p.fnGrow)
		}
	}
	buf = append(buf, body[last:]...)
	if !fitsU32(len(buf)) {
		return nil, fmt.Errorf("metered body of %d bytes: %w", len(buf), ErrTooLarge)
	}
	out = appendU32(out, uint32(len(buf)))
	return append(out, buf...), nil
}
