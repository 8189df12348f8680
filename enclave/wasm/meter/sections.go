package meter

import (
	"fmt"
	"strings"
)

// rewriteConstExpr copies a constant expression from r to out, remapping ref.func and
// checking the indices the rewriter could otherwise make valid by accident.
func (p *plan) rewriteConstExpr(r *reader, out []byte) ([]byte, error) {
	for {
		at := r.pos
		op, err := r.byte()
		if err != nil {
			return nil, err
		}
		switch op {
		case opEnd:
			return append(out, opEnd), nil
		case opI32Const, opI64Const:
			bits := 32
			if op == opI64Const {
				bits = 64
			}
			if _, err := r.signed(bits); err != nil {
				return nil, err
			}
			out = append(out, r.b[at:r.pos]...)
		case opF32Const, opF64Const:
			n := 4
			if op == opF64Const {
				n = 8
			}
			if _, err := r.bytes(n); err != nil {
				return nil, err
			}
			out = append(out, r.b[at:r.pos]...)
		case opPrefixSIMD:
			sub, err := readSIMDOpcode(r)
			if err != nil {
				return nil, err
			}
			if sub != simdV128Const {
				return nil, fmt.Errorf("constant expression at %#x: SIMD opcode %#x: %w", at, sub, ErrUnsupported)
			}
			if _, err := r.bytes(16); err != nil {
				return nil, err
			}
			out = append(out, r.b[at:r.pos]...)
		case opRefNull:
			t, err := r.byte()
			if err != nil {
				return nil, err
			}
			if !refType(t) {
				return nil, fmt.Errorf("constant expression at %#x: ref.null type %#x: %w", at, t, ErrUnsupported)
			}
			out = append(out, opRefNull, t)
		case opRefFunc:
			f, err := r.u32()
			if err != nil {
				return nil, err
			}
			if err := p.checkFunc(f); err != nil {
				return nil, err
			}
			out = append(out, opRefFunc)
			out = appendU32(out, p.remapFunc(f))
		case opGlobalGet:
			g, err := r.u32()
			if err != nil {
				return nil, err
			}
			if err := p.checkGlobal(g); err != nil {
				return nil, err
			}
			out = append(out, r.b[at:r.pos]...)
		default:
			return nil, fmt.Errorf("constant expression at %#x: opcode %#x: %w", at, op, ErrUnsupported)
		}
	}
}

// rewriteGlobals copies the global section and appends the fuel and reserve globals:
// mutable i64s holding the fuel left before the next refill and the fuel behind it.
func (p *plan) rewriteGlobals(payload []byte) ([]byte, error) {
	r := &reader{b: payload}
	n, err := r.vector(3)
	if err != nil {
		return nil, fmt.Errorf("global section: %w", err)
	}
	out := appendU32(make([]byte, 0, len(payload)+32), uint32(n)+2)
	for i := range n {
		gt, err := r.bytes(2)
		if err != nil {
			return nil, fmt.Errorf("global %d: %w", i, err)
		}
		if !valType(gt[0]) {
			return nil, fmt.Errorf("global %d: type %#x: %w", i, gt[0], ErrUnsupported)
		}
		out = append(out, gt...)
		if out, err = p.rewriteConstExpr(r, out); err != nil {
			return nil, fmt.Errorf("global %d: %w", i, err)
		}
	}
	if r.len() != 0 {
		return nil, fmt.Errorf("global section: %d trailing bytes: %w", r.len(), ErrMalformed)
	}
	out = append(out, 0x7e, 0x01, opI64Const, 0x00, opEnd) // fuel: 0 until the first refill
	out = append(out, 0x7e, 0x01, opI64Const)
	out = appendS64(out, int64(p.cfg.startFuel))
	return append(out, opEnd), nil
}

// rewriteExports copies the export section, remapping function indices and refusing the
// reserved prefix, and appends the exports of the fuel globals.
func (p *plan) rewriteExports(payload []byte) ([]byte, error) {
	r := &reader{b: payload}
	n, err := r.vector(3)
	if err != nil {
		return nil, fmt.Errorf("export section: %w", err)
	}
	out := appendU32(make([]byte, 0, len(payload)+64), uint32(n)+2)
	for i := range n {
		name, err := r.name()
		if err != nil {
			return nil, fmt.Errorf("export %d: %w", i, err)
		}
		if strings.HasPrefix(name, reservedPrefix) {
			return nil, fmt.Errorf("export %d %q: %w", i, name, ErrReservedName)
		}
		kind, err := r.byte()
		if err != nil {
			return nil, fmt.Errorf("export %d: %w", i, err)
		}
		idx, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("export %d: %w", i, err)
		}
		switch kind {
		case 0x00:
			if err := p.checkFunc(idx); err != nil {
				return nil, fmt.Errorf("export %q: %w", name, err)
			}
			idx = p.remapFunc(idx)
		case 0x03:
			if err := p.checkGlobal(idx); err != nil {
				return nil, fmt.Errorf("export %q: %w", name, err)
			}
		case 0x01, 0x02:
		default:
			return nil, fmt.Errorf("export %q: kind %#x: %w", name, kind, ErrUnsupported)
		}
		out = appendName(out, name)
		out = append(out, kind)
		out = appendU32(out, idx)
	}
	if r.len() != 0 {
		return nil, fmt.Errorf("export section: %d trailing bytes: %w", r.len(), ErrMalformed)
	}
	out = appendName(out, FuelExport)
	out = append(out, 0x03)
	out = appendU32(out, p.globalFuel)
	out = appendName(out, ReserveExport)
	out = append(out, 0x03)
	return appendU32(out, p.globalReserve), nil
}

// rewriteStart remaps the start function.
func (p *plan) rewriteStart(payload []byte) ([]byte, error) {
	r := &reader{b: payload}
	f, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("start section: %w", err)
	}
	if r.len() != 0 {
		return nil, fmt.Errorf("start section: %d trailing bytes: %w", r.len(), ErrMalformed)
	}
	if err := p.checkFunc(f); err != nil {
		return nil, fmt.Errorf("start section: %w", err)
	}
	return appendU32(nil, p.remapFunc(f)), nil
}

// rewriteElements copies the element section, remapping every function index, in all
// eight segment encodings of the bulk-memory and reference-types proposals.
func (p *plan) rewriteElements(payload []byte) ([]byte, error) {
	r := &reader{b: payload}
	n, err := r.vector(2)
	if err != nil {
		return nil, fmt.Errorf("element section: %w", err)
	}
	out := appendU32(make([]byte, 0, len(payload)+16), uint32(n))
	for i := range n {
		if out, err = p.rewriteElement(r, out); err != nil {
			return nil, fmt.Errorf("element segment %d: %w", i, err)
		}
	}
	if r.len() != 0 {
		return nil, fmt.Errorf("element section: %d trailing bytes: %w", r.len(), ErrMalformed)
	}
	return out, nil
}

func (p *plan) rewriteElement(r *reader, out []byte) ([]byte, error) {
	flags, err := r.u32()
	if err != nil {
		return nil, err
	}
	if flags > 7 {
		return nil, fmt.Errorf("flags %d: %w", flags, ErrUnsupported)
	}
	out = appendU32(out, flags)
	active := flags&1 == 0
	explicitTable := flags&2 != 0 && active
	exprs := flags&4 != 0
	if explicitTable {
		t, err := r.u32()
		if err != nil {
			return nil, err
		}
		out = appendU32(out, t)
	}
	if active {
		if out, err = p.rewriteConstExpr(r, out); err != nil {
			return nil, fmt.Errorf("offset: %w", err)
		}
	}
	if flags&3 != 0 { // element kind or reference type byte
		b, err := r.byte()
		if err != nil {
			return nil, err
		}
		if exprs && !refType(b) || !exprs && b != 0x00 {
			return nil, fmt.Errorf("element type %#x: %w", b, ErrUnsupported)
		}
		out = append(out, b)
	}
	k, err := r.count(1)
	if err != nil {
		return nil, err
	}
	out = appendU32(out, uint32(k))
	for j := 0; j < k; j++ {
		if exprs {
			if out, err = p.rewriteConstExpr(r, out); err != nil {
				return nil, err
			}
			continue
		}
		f, err := r.u32()
		if err != nil {
			return nil, err
		}
		if err := p.checkFunc(f); err != nil {
			return nil, err
		}
		out = appendU32(out, p.remapFunc(f))
	}
	return out, nil
}

// rewriteTypes appends the three types of the added functions.
func (p *plan) rewriteTypes(payload []byte) []byte {
	out := appendU32(make([]byte, 0, len(payload)+16), p.numTypes+3)
	r := &reader{b: payload}
	if _, err := r.u32(); err == nil { // already parsed; skip the count
		out = append(out, payload[r.pos:]...)
	}
	out = append(out, 0x60, 0x00, 0x00)                    // typeVoid: [] -> []
	out = append(out, 0x60, 0x01, 0x7e, 0x00)              // typeI64: [i64] -> [], refill
	return append(out, 0x60, 0x02, 0x7f, 0x7e, 0x01, 0x7f) // typeGrow: [i32 i64] -> [i32]
}

// rewriteImports appends agentnet_meter.yield and agentnet_meter.out_of_fuel after the
// input's imports, so that they take the first indices after the imported functions.
func (p *plan) rewriteImports() []byte {
	out := appendU32(make([]byte, 0, len(p.importEntries)+64), p.numImports+addedImports)
	out = append(out, p.importEntries...)
	for _, f := range [addedImports]string{YieldFunc, OutOfFuelFunc} {
		out = appendName(out, ImportModule)
		out = appendName(out, f)
		out = append(out, 0x00)
		out = appendU32(out, p.typeVoid)
	}
	return out
}

// rewriteFunctions appends the types of the helper functions.
func (p *plan) rewriteFunctions() []byte {
	out := appendU32(make([]byte, 0, 5*len(p.funcTypes)+16), uint32(len(p.funcTypes))+addedHelpers)
	for _, t := range p.funcTypes {
		out = appendU32(out, t)
	}
	out = appendU32(out, p.typeI64)   // refill
	return appendU32(out, p.typeGrow) // grow
}
