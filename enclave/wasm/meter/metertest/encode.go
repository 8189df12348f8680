package metertest

import "fmt"

// encode assembles the module around the generated bodies.
func (g *gen) encode(bodies [][]byte) []byte {
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	total := len(g.funcTypes)

	var sec []byte
	sec = appendU32(sec, uint32(len(g.types)))
	for _, s := range g.types {
		sec = append(sec, 0x60)
		sec = appendU32(sec, uint32(len(s.params)))
		sec = append(sec, s.params...)
		sec = appendU32(sec, uint32(len(s.results)))
		sec = append(sec, s.results...)
	}
	out = section(out, 1, sec)

	if g.numImp > 0 {
		sec = appendU32(sec[:0], 2)
		sec = appendName(appendName(sec, HostModule), HostFunc)
		sec = append(sec, 0x00)
		sec = appendU32(sec, uint32(g.funcTypes[0]))
		sec = appendName(appendName(sec, HostModule), HostGlobal)
		sec = append(sec, 0x03, I32, 0x00)
		out = section(out, 2, sec)
	}

	sec = appendU32(sec[:0], uint32(total-g.numImp))
	for _, t := range g.funcTypes[g.numImp:] {
		sec = appendU32(sec, uint32(t))
	}
	out = section(out, 3, sec)

	sec = appendU32(sec[:0], 2)
	sec = append(sec, 0x70, 0x00)
	sec = appendU32(sec, uint32(g.tableSize))
	sec = append(sec, 0x6f, 0x00, 0x04)
	out = section(out, 4, sec)

	out = section(out, 5, []byte{0x01, 0x01, 0x01, 0x02}) // memory 1..2 pages

	sec = appendU32(sec[:0], uint32(len(g.globals)+1))
	for _, t := range g.globals {
		sec = append(sec, t, 0x01)
		sec = append(sec, g.constExpr(t)...)
	}
	sec = append(sec, 0x70, 0x00, 0xd2)
	sec = appendU32(sec, uint32(g.frefFunc))
	sec = append(sec, 0x0b)
	out = section(out, 6, sec)

	var exports [][]byte
	for f := g.numImp; f < g.numImp+g.numDefined; f++ {
		e := appendName(nil, fmt.Sprintf("f%d", f))
		exports = append(exports, appendU32(append(e, 0x00), uint32(f)))
	}
	exports = append(exports, append(appendName(nil, "memory"), 0x02, 0x00))
	for i, t := range g.globals {
		if t != V128 {
			e := appendName(nil, fmt.Sprintf("g%d", i))
			exports = append(exports, appendU32(append(e, 0x03), uint32(g.numImpGlob+i)))
		}
	}
	sec = appendU32(sec[:0], uint32(len(exports)))
	for _, e := range exports {
		sec = append(sec, e...)
	}
	out = section(out, 7, sec)

	if g.cfg.Start {
		out = section(out, 8, appendU32(nil, uint32(total-1)))
	}

	sec = appendU32(sec[:0], 2)
	sec = append(sec, 0x00, 0x41, 0x00, 0x0b) // active at table 0, offset 0
	sec = appendU32(sec, uint32(total))
	for f := 0; f < total; f++ {
		sec = appendU32(sec, uint32(f))
	}
	sec = append(sec, 0x01, 0x00) // passive copy of the same layout
	sec = appendU32(sec, uint32(total))
	for f := 0; f < total; f++ {
		sec = appendU32(sec, uint32(f))
	}
	out = section(out, 9, sec)

	out = section(out, 12, []byte{0x02}) // data count

	sec = appendU32(sec[:0], uint32(len(bodies)))
	for _, b := range bodies {
		sec = appendU32(sec, uint32(len(b)))
		sec = append(sec, b...)
	}
	out = section(out, 10, sec)

	sec = appendU32(sec[:0], 2)
	sec = append(sec, 0x00, 0x41, 0x00, 0x0b, dataBytes)
	for i := 0; i < dataBytes; i++ {
		sec = append(sec, byte(g.rnd.Uint32()))
	}
	sec = append(sec, 0x01, passBytes)
	for i := 0; i < passBytes; i++ {
		sec = append(sec, byte(g.rnd.Uint32()))
	}
	return section(out, 11, sec)
}

// constExpr returns a constant initializer expression of type t.
func (g *gen) constExpr(t byte) []byte {
	saved := g.body
	g.body = nil
	g.constant(t)
	expr := append(g.body, 0x0b)
	g.body = saved
	return expr
}

func section(out []byte, id byte, payload []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(payload)))
	return append(out, payload...)
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}
