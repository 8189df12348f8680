package wasm

import (
	"fmt"
)

// Structural limits on a module. wazero's decoder sizes its tables from the counts a
// module declares before reading the entries, so a 16-byte module declaring 2^32 exports
// makes it allocate gigabytes. scanModule therefore walks every section first and
// admits a module only if each count is backed by bytes and within these limits. The
// limits are the JavaScript embedding's, which browser engines agree on, so any module a
// browser accepts passes; the last three are this node's own.
const (
	maxTypes             = 1_000_000
	maxFunctions         = 1_000_000
	maxImports           = 1_000_000
	maxExports           = 1_000_000
	maxGlobals           = 1_000_000
	maxDataSegments      = 100_000
	maxElementSegments   = 100_000
	maxTables            = 100
	maxMemories          = 100
	maxNameBytes         = 100_000
	maxFunctionBodyBytes = 7_654_321
	maxFunctionLocals    = 50_000
	maxParams            = 1_000
	maxResults           = 1_000
	maxSegmentElements   = 10_000_000

	// maxModuleLocals bounds the locals declared by all functions together: 50,000
	// locals cost a few bytes to declare but a slot each to decode and compile.
	maxModuleLocals = 4 << 20
	// maxTableElements bounds every table. A table without a maximum (Go's, for
	// example) may otherwise be grown by the guest to 2^32 entries, 8 bytes each, outside
	// the memory limit; such tables get this maximum, as memories get Config.MemoryPages.
	maxTableElements = 1 << 20
)

// Section ids of the binary format.
const (
	secCustom byte = iota
	secType
	secImport
	secFunction
	secTable
	secMemory
	secGlobal
	secExport
	secStart
	secElement
	secCode
	secData
	secDataCount
)

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory", "global",
	"export", "start", "element", "code", "data", "data count"}

// importKind is the kind byte of an import descriptor.
type importKind byte

// Import kinds of the binary format.
const (
	kindFunc   importKind = 0
	kindTable  importKind = 1
	kindMemory importKind = 2
	kindGlobal importKind = 3
)

// String names a kind as the specification does.
func (k importKind) String() string {
	switch k {
	case kindFunc:
		return "function"
	case kindTable:
		return "table"
	case kindMemory:
		return "memory"
	case kindGlobal:
		return "global"
	}
	return fmt.Sprintf("kind %d", byte(k))
}

// importEntry is one import of a module.
type importEntry struct {
	module, name string
	kind         importKind
}

// scanned is what admission learns from scanModule.
type scanned struct {
	imports []importEntry
	// wasm is what to compile: the input itself, or a copy whose unbounded tables got
	// the maximum maxTableElements.
	wasm []byte
}

// scanner walks a module; it is the state of one scanModule call.
type scanner struct {
	wasm   []byte // the module as given
	out    scanned
	locals uint64 // declared by all functions so far
}

// scanModule checks the structure of a WebAssembly binary without building anything: the
// header, every section's bounds, every vector count against the bytes that must back it
// and against the limits above. It never panics and allocates only in proportion to the
// module. It accepts only WebAssembly 2.0 encodings; anything it accepts wazero decodes
// the same way.
func scanModule(wasm []byte) (*scanned, error) {
	if len(wasm) == 0 {
		return nil, malformed("empty module (0 bytes)")
	}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, malformed("not a WebAssembly binary (no \\0asm magic number)")
	}
	if string(wasm[4:8]) != "\x01\x00\x00\x00" {
		return nil, malformed("unsupported binary format version %x", wasm[4:8])
	}
	s := &scanner{wasm: wasm, out: scanned{wasm: wasm}}
	r := reader{b: wasm, pos: 8}
	var seen uint32
	for r.left() > 0 {
		start := r.pos
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		if int(id) >= len(sectionNames) {
			return nil, malformed("unknown section id %d at byte %d", id, start)
		}
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("section %s: %w", sectionNames[id], err)
		}
		content, err := r.bytes(size)
		if err != nil {
			return nil, fmt.Errorf("section %s: %w", sectionNames[id], err)
		}
		if id != secCustom {
			if seen&(1<<id) != 0 {
				return nil, malformed("section %s appears twice", sectionNames[id])
			}
			seen |= 1 << id
		}
		sec := reader{b: content}
		if id == secCustom {
			err = s.custom(&sec, r.pos-int(size))
		} else {
			err = s.section(id, &sec, start, r.pos)
		}
		if err == nil && sec.left() != 0 {
			err = malformed("%d bytes left over", sec.left())
		}
		if err != nil {
			return nil, fmt.Errorf("section %s: %w", sectionNames[id], err)
		}
	}
	return &s.out, nil
}

// section scans one non-custom section; start and end delimit it in the module.
func (s *scanner) section(id byte, r *reader, start, end int) error {
	switch id {
	case secType:
		return s.types(r)
	case secImport:
		return s.imports(r)
	case secFunction:
		return forEach(r, "functions", maxFunctions, 1, func(int) error { _, err := r.u32(); return err })
	case secTable:
		return s.tables(r, start, end)
	case secMemory:
		return forEach(r, "memories", maxMemories, 2, func(int) error { _, err := r.limits(true); return err })
	case secGlobal:
		return forEach(r, "globals", maxGlobals, 4, func(int) error { return r.global() })
	case secExport:
		return forEach(r, "exports", maxExports, 3, func(int) error {
			if _, err := r.name(); err != nil {
				return err
			}
			kind, err := r.byte()
			if err != nil {
				return err
			}
			if kind > byte(kindGlobal) {
				return malformed("unknown export kind %d", kind)
			}
			_, err = r.u32()
			return err
		})
	case secStart, secDataCount:
		_, err := r.u32()
		return err
	case secElement:
		return forEach(r, "element segments", maxElementSegments, 3, func(int) error { return r.element() })
	case secCode:
		return forEach(r, "function bodies", maxFunctions, 3, s.body(r))
	case secData:
		return forEach(r, "data segments", maxDataSegments, 2, func(int) error { return r.data() })
	}
	return malformed("unknown section id %d", id)
}

// forEach reads a vector count (see reader.count) and calls f for each element.
func forEach(r *reader, what string, limit uint32, minBytes int, f func(i int) error) error {
	n, err := r.count(what, limit, minBytes)
	if err != nil {
		return err
	}
	for i := range int(n) {
		if err := f(i); err != nil {
			return fmt.Errorf("%s[%d]: %w", what, i, err)
		}
	}
	return nil
}

func (s *scanner) types(r *reader) error {
	return forEach(r, "types", maxTypes, 3, func(int) error {
		form, err := r.byte()
		if err != nil {
			return err
		}
		if form != 0x60 {
			return malformed("type form %#x is not a function type", form)
		}
		if err := forEach(r, "parameters", maxParams, 1, func(int) error { return r.valType() }); err != nil {
			return err
		}
		return forEach(r, "results", maxResults, 1, func(int) error { return r.valType() })
	})
}

func (s *scanner) imports(r *reader) error {
	n, err := r.count("imports", maxImports, 4)
	if err != nil {
		return err
	}
	s.out.imports = make([]importEntry, 0, n)
	for i := range n {
		var e importEntry
		if e.module, err = r.name(); err != nil {
			return fmt.Errorf("imports[%d]: %w", i, err)
		}
		if e.name, err = r.name(); err != nil {
			return fmt.Errorf("imports[%d]: %w", i, err)
		}
		k, err := r.byte()
		if err != nil {
			return fmt.Errorf("imports[%d]: %w", i, err)
		}
		e.kind = importKind(k)
		switch e.kind {
		case kindFunc:
			_, err = r.u32()
		case kindTable:
			_, err = r.table()
		case kindMemory:
			_, err = r.limits(true)
		case kindGlobal:
			err = r.globalType()
		default:
			err = malformed("unknown import kind %d", k)
		}
		if err != nil {
			return fmt.Errorf("imports[%d]: %w", i, err)
		}
		s.out.imports = append(s.out.imports, e)
	}
	return nil
}

// tables scans the table section and, if a table has no maximum or one over
// maxTableElements, rewrites the section in a copy of the module with that maximum.
func (s *scanner) tables(r *reader, start, end int) error {
	var tables []tableType
	clamp := false
	err := forEach(r, "tables", maxTables, 3, func(int) error {
		t, err := r.table()
		if err != nil {
			return err
		}
		if t.min > maxTableElements {
			return overLimit("%d elements, over the limit of %d", t.min, maxTableElements)
		}
		if !t.hasMax || t.max > maxTableElements {
			clamp = true
			t.hasMax, t.max = true, maxTableElements
		}
		tables = append(tables, t)
		return nil
	})
	if err != nil || !clamp {
		return err
	}
	content := appendU32(nil, uint32(len(tables)))
	for _, t := range tables {
		content = append(content, t.ref, 0x01)
		content = appendU32(content, t.min)
		content = appendU32(content, t.max)
	}
	wasm := s.wasm
	out := make([]byte, 0, len(wasm)+len(content)+8)
	out = append(out, wasm[:start]...)
	out = append(out, secTable)
	out = appendU32(out, uint32(len(content)))
	out = append(out, content...)
	s.out.wasm = append(out, wasm[end:]...)
	return nil
}

// body returns the scan of one function body: its size and local declarations (the
// instructions are wazero's to validate; its decoder does not allocate by their counts).
func (s *scanner) body(r *reader) func(int) error {
	return func(int) error {
		size, err := r.u32()
		if err != nil {
			return err
		}
		if size > maxFunctionBodyBytes {
			return overLimit("body of %d bytes, over the limit of %d", size, maxFunctionBodyBytes)
		}
		code, err := r.bytes(size)
		if err != nil {
			return err
		}
		b := reader{b: code}
		var locals uint64
		err = forEach(&b, "local declarations", maxFunctionLocals, 2, func(int) error {
			n, err := b.u32()
			if err != nil {
				return err
			}
			if locals += uint64(n); locals > maxFunctionLocals {
				return overLimit("more than %d locals", maxFunctionLocals)
			}
			return b.valType()
		})
		if err != nil {
			return err
		}
		if s.locals += locals; s.locals > maxModuleLocals {
			return overLimit("more than %d locals in all functions", maxModuleLocals)
		}
		return nil
	}
}

// custom scans a custom section: its name, and the "name" section's contents, which
// wazero decodes even with custom sections off. contentStart is the section's offset in
// the module.
func (s *scanner) custom(r *reader, contentStart int) error {
	nameStart := r.pos
	name, err := r.name()
	if err != nil {
		return err
	}
	if name == "name" {
		// wazero reads the name section from the module as a whole, not from the section,
		// and checks the section length only afterwards; emulate its reads over the module.
		m := reader{b: s.wasm, pos: contentStart + r.pos}
		limit := uint64(len(r.b) - (r.pos - nameStart))
		if err := scanNames(&m, limit); err != nil {
			return fmt.Errorf("names: %w", err)
		}
		if m.pos != contentStart+len(r.b) {
			return malformed("name section of %d bytes holds %d", len(r.b), m.pos-contentStart)
		}
	}
	r.pos = len(r.b)
	return nil
}

// scanNames follows wazero's decodeNameSection step by step, checking every count and
// name against the bytes left in the module.
func scanNames(r *reader, limit uint64) error {
	for limit > 0 {
		if r.left() == 0 {
			return nil
		}
		id, _ := r.byte()
		limit--
		before := r.pos
		size, err := r.u32()
		if err != nil {
			return err
		}
		limit -= uint64(r.pos - before)
		switch id {
		case 0:
			_, err = r.name()
		case 1:
			err = forEach(r, "function names", maxFunctions, 2, func(int) error { return r.nameAssoc() })
		case 2:
			err = forEach(r, "local name maps", maxFunctions, 2, func(int) error {
				if _, err := r.u32(); err != nil {
					return err
				}
				return forEach(r, "local names", maxFunctionLocals+maxParams, 2, func(int) error { return r.nameAssoc() })
			})
		default:
			_, err = r.bytes(size)
		}
		if err != nil {
			return fmt.Errorf("subsection %d: %w", id, err)
		}
		limit -= uint64(size)
	}
	return nil
}

func (r *reader) nameAssoc() error {
	if _, err := r.u32(); err != nil {
		return err
	}
	_, err := r.name()
	return err
}

// appendU32 appends v as unsigned LEB128.
func appendU32(out []byte, v uint32) []byte {
	for v >= 0x80 {
		out = append(out, byte(v)|0x80)
		v >>= 7
	}
	return append(out, byte(v))
}
