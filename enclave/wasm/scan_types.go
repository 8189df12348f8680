package wasm

// valType reads a WebAssembly 2.0 value type.
func (r *reader) valType() error {
	t, err := r.byte()
	if err != nil {
		return err
	}
	switch t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f: // i32 i64 f32 f64 v128 funcref externref
		return nil
	}
	return malformed("value type %#x is not in WebAssembly 2.0", t)
}

func (r *reader) refType() (byte, error) {
	t, err := r.byte()
	if err != nil {
		return 0, err
	}
	if t != 0x70 && t != 0x6f {
		return 0, malformed("reference type %#x is not in WebAssembly 2.0", t)
	}
	return t, nil
}

func (r *reader) globalType() error {
	if err := r.valType(); err != nil {
		return err
	}
	mut, err := r.byte()
	if err != nil {
		return err
	}
	if mut > 1 {
		return malformed("global mutability %#x", mut)
	}
	return nil
}

func (r *reader) global() error {
	if err := r.globalType(); err != nil {
		return err
	}
	return r.constExpr()
}

// limitsType is a decoded limits field.
type limitsType struct {
	min, max uint32
	hasMax   bool
}

// limits reads limits; memories may carry the threads proposal's shared flag (wazero
// decides whether it is enabled), 64-bit limits are refused.
func (r *reader) limits(memory bool) (limitsType, error) {
	var l limitsType
	flags, err := r.byte()
	if err != nil {
		return l, err
	}
	if flags > 3 || (!memory && flags > 1) {
		return l, malformed("unsupported limits flags %#x", flags)
	}
	if l.min, err = r.u32(); err != nil {
		return l, err
	}
	if l.hasMax = flags&1 != 0; l.hasMax {
		l.max, err = r.u32()
	}
	return l, err
}

// tableType is a decoded table type.
type tableType struct {
	ref byte
	limitsType
}

func (r *reader) table() (tableType, error) {
	var t tableType
	var err error
	if t.ref, err = r.refType(); err != nil {
		return t, err
	}
	t.limitsType, err = r.limits(false)
	return t, err
}

// constExpr reads past a constant expression: WebAssembly 2.0's constant instructions
// and the extended-constant arithmetic, up to the end opcode.
func (r *reader) constExpr() error {
	for {
		op, err := r.byte()
		if err != nil {
			return err
		}
		switch op {
		case 0x0b: // end
			return nil
		case 0x41: // i32.const
			err = r.skipSLEB(32)
		case 0x42: // i64.const
			err = r.skipSLEB(64)
		case 0x43: // f32.const
			_, err = r.bytes(4)
		case 0x44: // f64.const
			_, err = r.bytes(8)
		case 0x23, 0xd2: // global.get, ref.func
			_, err = r.u32()
		case 0xd0: // ref.null
			_, err = r.refType()
		case 0xfd: // v128.const
			var sub uint32
			if sub, err = r.u32(); err == nil && sub != 12 {
				err = malformed("SIMD instruction %d in a constant expression", sub)
			}
			if err == nil {
				_, err = r.bytes(16)
			}
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // i32/i64 add, sub, mul
		default:
			return malformed("instruction %#x in a constant expression", op)
		}
		if err != nil {
			return err
		}
	}
}

// element reads an element segment (all eight encodings of WebAssembly 2.0).
func (r *reader) element() error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	if flags > 7 {
		return malformed("element segment flags %d", flags)
	}
	if flags&3 == 2 { // explicit table index
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	if flags&1 == 0 { // active: offset expression
		if err := r.constExpr(); err != nil {
			return err
		}
	}
	if flags&3 != 0 { // element kind (flags 1-3) or reference type (flags 5-7)
		if flags&4 == 0 {
			kind, err := r.byte()
			if err != nil {
				return err
			}
			if kind != 0 {
				return malformed("element kind %#x", kind)
			}
		} else if _, err := r.refType(); err != nil {
			return err
		}
	}
	if flags&4 == 0 {
		return forEach(r, "function indices", maxSegmentElements, 1, func(int) error { _, err := r.u32(); return err })
	}
	return forEach(r, "element expressions", maxSegmentElements, 2, func(int) error { return r.constExpr() })
}

// data reads a data segment.
func (r *reader) data() error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	switch flags {
	case 0:
		err = r.constExpr()
	case 1:
	case 2:
		if _, err = r.u32(); err == nil {
			err = r.constExpr()
		}
	default:
		return malformed("data segment flags %d", flags)
	}
	if err != nil {
		return err
	}
	n, err := r.u32()
	if err != nil {
		return err
	}
	_, err = r.bytes(n)
	return err
}
