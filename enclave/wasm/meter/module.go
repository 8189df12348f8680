package meter

import (
	"bytes"
	"fmt"
	"math"
)

// Section ids of the binary format.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	numSections  = 13
)

var wasmHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// sectionRank orders the known sections as the binary format requires (data count sits
// between element and code).
func sectionRank(id byte) int {
	switch id {
	case secDataCount:
		return secElement + 1
	case secCode, secData:
		return int(id) + 1
	}
	return int(id)
}

// module is the input split into sections. Section payloads alias the input.
type module struct {
	stripped []byte              // the input without its custom sections
	sections [numSections][]byte // payload of each known section, nil when absent
	present  [numSections]bool
	names    []byte // payload of the first "name" custom section, after its name
	hasNames bool
}

// splitSections checks the header and the section framing and order. Custom sections
// other than "name" are dropped (see the package doc).
func splitSections(wasm []byte) (*module, error) {
	if len(wasm) < len(wasmHeader) || !bytes.Equal(wasm[:4], wasmHeader[:4]) {
		return nil, fmt.Errorf("read header: not a WebAssembly binary: %w", ErrMalformed)
	}
	if !bytes.Equal(wasm[4:8], wasmHeader[4:]) {
		return nil, fmt.Errorf("read header: version %x is not 1: %w", wasm[4:8], ErrUnsupported)
	}
	m := &module{stripped: append(make([]byte, 0, len(wasm)), wasmHeader...)}
	r := &reader{b: wasm, pos: len(wasmHeader)}
	lastRank := 0
	for r.len() > 0 {
		at := r.pos
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("read section %d size: %w", id, err)
		}
		payload, err := r.bytes(int(size))
		if err != nil {
			return nil, fmt.Errorf("read section %d at %#x: %w", id, at, err)
		}
		if id == secCustom {
			cr := &reader{b: payload}
			name, err := cr.name()
			if err != nil {
				return nil, fmt.Errorf("read custom section name at %#x: %w", at, err)
			}
			if name == "name" && !m.hasNames {
				m.names, m.hasNames = payload[cr.pos:], true
			}
			continue
		}
		if id >= numSections {
			return nil, fmt.Errorf("section id %d at %#x: %w", id, at, ErrUnsupported)
		}
		rank := sectionRank(id)
		if rank <= lastRank {
			return nil, fmt.Errorf("section %d at %#x: out of order or repeated: %w", id, at, ErrMalformed)
		}
		lastRank = rank
		m.sections[id], m.present[id] = payload, true
		m.stripped = append(m.stripped, wasm[at:r.pos]...)
	}
	return m, nil
}

// plan holds the index spaces of the input and where the metering adds its own
// entities. Everything the rewriter adds goes after the input's entities, except the two
// function imports, which must precede the defined functions: defined function indices
// shift by numImports.
type plan struct {
	cfg config

	numTypes      uint32   // types in the input
	typeParams    []uint32 // number of parameters of each input type
	numFuncImp    uint32   // imported functions in the input
	numFuncs      uint32   // imported + defined functions in the input
	numGlobals    uint32   // imported + defined globals in the input
	funcTypes     []uint32 // type of each defined function
	importEntries []byte   // the input's import entries, verbatim
	numImports    uint32   // import entries in the input

	// Indices of what the rewriter adds.
	typeVoid, typeI64, typeGrow uint32 // imports; refill; grow
	fnYield, fnOutOfFuel        uint32
	fnRefill, fnGrow            uint32
	globalFuel, globalReserve   uint32
}

// Imported functions and defined helper functions the rewriter adds.
const (
	addedImports = 2
	addedHelpers = 2
	maxIndex     = 1 << 27 // wazero's cap on function, global and type counts
)

// remapFunc maps an input function index to the output. The caller has checked that
// idx < numFuncs.
func (p *plan) remapFunc(idx uint32) uint32 {
	if idx < p.numFuncImp {
		return idx
	}
	return idx + addedImports
}

func (p *plan) checkFunc(idx uint32) error {
	if idx >= p.numFuncs {
		return fmt.Errorf("function index %d out of range (%d functions): %w", idx, p.numFuncs, ErrMalformed)
	}
	return nil
}

func (p *plan) checkGlobal(idx uint32) error {
	if idx >= p.numGlobals {
		return fmt.Errorf("global index %d out of range (%d globals): %w", idx, p.numGlobals, ErrMalformed)
	}
	return nil
}

func (p *plan) checkType(idx uint32) error {
	if idx >= p.numTypes {
		return fmt.Errorf("type index %d out of range (%d types): %w", idx, p.numTypes, ErrMalformed)
	}
	return nil
}

// parseTypes reads the type section: func types only (0x60) in CoreFeaturesV2.
func (p *plan) parseTypes(payload []byte) error {
	r := &reader{b: payload}
	n, err := r.vector(3)
	if err != nil {
		return fmt.Errorf("type section: %w", err)
	}
	p.typeParams = make([]uint32, n)
	for i := range n {
		form, err := r.byte()
		if err != nil {
			return fmt.Errorf("type %d: %w", i, err)
		}
		if form != 0x60 {
			return fmt.Errorf("type %d: form %#x is not a function type: %w", i, form, ErrUnsupported)
		}
		for part := 0; part < 2; part++ {
			k, err := r.count(1)
			if err != nil {
				return fmt.Errorf("type %d: %w", i, err)
			}
			for j := 0; j < k; j++ {
				vt, err := r.byte()
				if err != nil {
					return fmt.Errorf("type %d: %w", i, err)
				}
				if !valType(vt) {
					return fmt.Errorf("type %d: value type %#x: %w", i, vt, ErrUnsupported)
				}
			}
			if part == 0 {
				p.typeParams[i] = uint32(k)
			}
		}
	}
	if r.len() != 0 {
		return fmt.Errorf("type section: %d trailing bytes: %w", r.len(), ErrMalformed)
	}
	p.numTypes = uint32(n)
	return nil
}

// parseLimits reads memory or table limits.
func parseLimits(r *reader) error {
	flag, err := r.byte()
	if err != nil {
		return err
	}
	switch flag {
	case 0x00:
		_, err = r.u32()
	case 0x01:
		if _, err = r.u32(); err == nil {
			_, err = r.u32()
		}
	default:
		return fmt.Errorf("limits flag %#x (shared or 64-bit): %w", flag, ErrUnsupported)
	}
	return err
}

// parseImports reads the import section, counting function and global imports and
// refusing the reserved module name.
func (p *plan) parseImports(payload []byte) error {
	r := &reader{b: payload}
	n, err := r.vector(4)
	if err != nil {
		return fmt.Errorf("import section: %w", err)
	}
	start := r.pos
	for i := range n {
		mod, err := r.name()
		if err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
		field, err := r.name()
		if err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
		if mod == ImportModule {
			return fmt.Errorf("import %d %s.%s: %w", i, mod, field, ErrReservedName)
		}
		kind, err := r.byte()
		if err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
		switch kind {
		case 0x00:
			t, err := r.u32()
			if err != nil {
				return fmt.Errorf("import %d: %w", i, err)
			}
			if err := p.checkType(t); err != nil {
				return fmt.Errorf("import %d: %w", i, err)
			}
			p.numFuncImp++
		case 0x01:
			rt, err := r.byte()
			if err != nil {
				return fmt.Errorf("import %d: %w", i, err)
			}
			if !refType(rt) {
				return fmt.Errorf("import %d: table element type %#x: %w", i, rt, ErrUnsupported)
			}
			err = parseLimits(r)
			if err != nil {
				return fmt.Errorf("import %d: %w", i, err)
			}
		case 0x02:
			if err := parseLimits(r); err != nil {
				return fmt.Errorf("import %d: %w", i, err)
			}
		case 0x03:
			vt, err := r.byte()
			if err != nil {
				return fmt.Errorf("import %d: %w", i, err)
			}
			if !valType(vt) {
				return fmt.Errorf("import %d: global type %#x: %w", i, vt, ErrUnsupported)
			}
			if _, err := r.byte(); err != nil { // mutability, validated by wazero
				return fmt.Errorf("import %d: %w", i, err)
			}
			p.numGlobals++
		default:
			return fmt.Errorf("import %d: kind %#x: %w", i, kind, ErrUnsupported)
		}
	}
	if r.len() != 0 {
		return fmt.Errorf("import section: %d trailing bytes: %w", r.len(), ErrMalformed)
	}
	p.importEntries = payload[start:]
	p.numImports = uint32(n)
	return nil
}

// parseFunctions reads the function section (the type of each defined function).
func (p *plan) parseFunctions(payload []byte) error {
	r := &reader{b: payload}
	n, err := r.vector(1)
	if err != nil {
		return fmt.Errorf("function section: %w", err)
	}
	p.funcTypes = make([]uint32, n)
	for i := range n {
		t, err := r.u32()
		if err != nil {
			return fmt.Errorf("function %d: %w", i, err)
		}
		if err := p.checkType(t); err != nil {
			return fmt.Errorf("function %d: %w", i, err)
		}
		p.funcTypes[i] = t
	}
	if r.len() != 0 {
		return fmt.Errorf("function section: %d trailing bytes: %w", r.len(), ErrMalformed)
	}
	return nil
}

// checkTablesAndMemories parses the table and memory sections, which are copied as they
// are, to refuse shared, 64-bit and typed-reference tables and memories clearly.
func checkTablesAndMemories(m *module) error {
	for _, id := range []byte{secTable, secMemory} {
		r := &reader{b: m.sections[id]}
		n, err := r.vector(2)
		if err != nil {
			return fmt.Errorf("section %d: %w", id, err)
		}
		for i := 0; i < n; i++ {
			if id == secTable {
				rt, err := r.byte()
				if err != nil {
					return fmt.Errorf("table %d: %w", i, err)
				}
				if !refType(rt) {
					return fmt.Errorf("table %d: element type %#x: %w", i, rt, ErrUnsupported)
				}
			}
			if err := parseLimits(r); err != nil {
				return fmt.Errorf("section %d entry %d: %w", id, i, err)
			}
		}
		if r.len() != 0 {
			return fmt.Errorf("section %d: %d trailing bytes: %w", id, r.len(), ErrMalformed)
		}
	}
	return nil
}

// countGlobals adds the defined globals to numGlobals; the section is rewritten later.
func (p *plan) countGlobals(payload []byte) error {
	r := &reader{b: payload}
	n, err := r.vector(3)
	if err != nil {
		return fmt.Errorf("global section: %w", err)
	}
	p.numGlobals += uint32(n)
	return nil
}

// newPlan parses what fixes the index spaces and places the added entities.
func newPlan(m *module, cfg config) (*plan, error) {
	p := &plan{cfg: cfg}
	if err := checkTablesAndMemories(m); err != nil {
		return nil, err
	}
	if err := p.parseTypes(m.sections[secType]); err != nil {
		return nil, err
	}
	if err := p.parseImports(m.sections[secImport]); err != nil {
		return nil, err
	}
	if err := p.parseFunctions(m.sections[secFunction]); err != nil {
		return nil, err
	}
	if err := p.countGlobals(m.sections[secGlobal]); err != nil {
		return nil, err
	}
	if _, err := (&reader{b: m.sections[secData]}).vector(3); err != nil {
		return nil, fmt.Errorf("data section: %w", err) // bounds wazero's allocation too
	}
	nf := uint64(p.numFuncImp) + uint64(len(p.funcTypes))
	if nf+addedImports+addedHelpers > maxIndex || uint64(p.numTypes)+3 > maxIndex || uint64(p.numGlobals)+2 > maxIndex {
		return nil, fmt.Errorf("index spaces: too many functions, types or globals: %w", ErrTooLarge)
	}
	p.numFuncs = uint32(nf)
	p.typeVoid, p.typeI64, p.typeGrow = p.numTypes, p.numTypes+1, p.numTypes+2
	p.fnYield, p.fnOutOfFuel = p.numFuncImp, p.numFuncImp+1
	base := p.numFuncs + addedImports
	p.fnRefill, p.fnGrow = base, base+1
	p.globalFuel, p.globalReserve = p.numGlobals, p.numGlobals+1
	return p, nil
}

// appendSection appends a section with its size prefix.
func appendSection(out []byte, id byte, payload []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(payload)))
	return append(out, payload...)
}

// fitsU32 reports whether n can be a section or body size.
func fitsU32(n int) bool { return uint64(n) <= math.MaxUint32 }
