package wasmtest

// Oversized returns a valid WASI command of more than n bytes: Hello followed by a custom
// section named "padding" that takes it past n. It tests module size caps with a module
// that would otherwise compile and run. A negative n is treated as 0.
func Oversized(n int) []byte {
	n = max(n, 0)
	const name = "padding"
	pad := max(n-len(Hello), 0) + 1
	size := uint32(1 + len(name) + pad) // name length byte, name, payload
	out := make([]byte, 0, len(Hello)+6+int(size))
	out = append(out, Hello...)
	out = append(out, 0) // custom section id
	out = appendU32(out, size)
	out = append(out, byte(len(name)))
	out = append(out, name...)
	return append(out, make([]byte, pad)...)
}

// ManyFuncs returns a valid WASI command with n chained arithmetic functions (n < 1 is
// treated as 1) whose _start calls the last one. Its compile time grows with n while it
// runs in microseconds, so it measures compilation and compilation caches. It imports
// nothing and writes nothing.
func ManyFuncs(n int) []byte {
	n = max(n, 1)
	out := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

	// Types: 0 = () -> (), 1 = (i32) -> i32.
	out = appendSection(out, 1, []byte{0x02, 0x60, 0x00, 0x00, 0x60, 0x01, 0x7f, 0x01, 0x7f})

	// Functions: f0..f(n-1) of type 1, then _start of type 0.
	funcs := appendU32(nil, uint32(n+1))
	for range n {
		funcs = append(funcs, 0x01)
	}
	funcs = append(funcs, 0x00)
	out = appendSection(out, 3, funcs)

	// Export _start.
	exports := []byte{0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00}
	exports = appendU32(exports, uint32(n))
	out = appendSection(out, 7, exports)

	// Code: fi(x) = (x * (7i+1)) + (x ^ i), plus f(i-1) of that for i > 0.
	code := appendU32(nil, uint32(n+1))
	for i := range n {
		var body []byte
		body = append(body, 0x00)       // no locals
		body = append(body, 0x20, 0x00) // local.get 0
		body = append(body, 0x41)       // i32.const
		body = appendS32(body, int32(7*i+1))
		body = append(body, 0x6c)       // i32.mul
		body = append(body, 0x20, 0x00) // local.get 0
		body = append(body, 0x41)       // i32.const
		body = appendS32(body, int32(i))
		body = append(body, 0x73) // i32.xor
		body = append(body, 0x6a) // i32.add
		if i > 0 {
			body = append(body, 0x10) // call
			body = appendU32(body, uint32(i-1))
		}
		body = append(body, 0x0b) // end
		code = appendU32(code, uint32(len(body)))
		code = append(code, body...)
	}
	start := []byte{0x00, 0x41, 0x01, 0x10} // no locals, i32.const 1, call
	start = appendU32(start, uint32(n-1))
	start = append(start, 0x1a, 0x0b) // drop, end
	code = appendU32(code, uint32(len(start)))
	code = append(code, start...)
	return appendSection(out, 10, code)
}

func appendSection(out []byte, id byte, content []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(content)))
	return append(out, content...)
}

// appendU32 appends v as unsigned LEB128.
func appendU32(out []byte, v uint32) []byte {
	for v >= 0x80 {
		out = append(out, byte(v)|0x80)
		v >>= 7
	}
	return append(out, byte(v))
}

// appendS32 appends v as signed LEB128.
func appendS32(out []byte, v int32) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}
