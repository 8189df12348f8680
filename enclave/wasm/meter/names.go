package meter

import (
	"sort"
)

// Subsections of the name section that the rewriter keeps.
const (
	nameModule    = 0
	nameFunctions = 1
	nameLocals    = 2
)

type nameEntry struct {
	idx  uint32
	name string
}

// rewriteNames rewrites the payload of the "name" custom section: the module name is
// kept, function and local names follow the shifted function indices and the added
// functions are named; other subsections are dropped. A malformed name section is
// dropped whole (nil): names only decorate stack traces.
func (p *plan) rewriteNames(payload []byte) []byte {
	r := &reader{b: payload}
	var out []byte
	for r.len() > 0 {
		id, err := r.byte()
		if err != nil {
			return nil
		}
		size, err := r.u32()
		if err != nil {
			return nil
		}
		sub, err := r.bytes(int(size))
		if err != nil {
			return nil
		}
		var body []byte
		switch id {
		case nameModule:
			body = sub
		case nameFunctions:
			if body = p.rewriteFunctionNames(sub); body == nil {
				return nil
			}
		case nameLocals:
			if body = p.rewriteLocalNames(sub); body == nil {
				return nil
			}
		default:
			continue
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out
}

func (p *plan) rewriteFunctionNames(sub []byte) []byte {
	r := &reader{b: sub}
	n, err := r.count(2)
	if err != nil {
		return nil
	}
	entries := make([]nameEntry, 0, n+addedImports+addedHelpers)
	for i := 0; i < n; i++ {
		idx, err := r.u32()
		if err != nil {
			return nil
		}
		name, err := r.name()
		if err != nil {
			return nil
		}
		if idx >= p.numFuncs {
			continue // names no function
		}
		entries = append(entries, nameEntry{p.remapFunc(idx), name})
	}
	if r.len() != 0 {
		return nil
	}
	entries = append(entries,
		nameEntry{p.fnYield, reservedPrefix + YieldFunc},
		nameEntry{p.fnOutOfFuel, reservedPrefix + OutOfFuelFunc},
		nameEntry{p.fnRefill, reservedPrefix + "refill"},
		nameEntry{p.fnGrow, reservedPrefix + "grow"})
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].idx < entries[j].idx })
	out := appendU32(nil, uint32(len(entries)))
	for _, e := range entries {
		out = appendU32(out, e.idx)
		out = appendName(out, e.name)
	}
	return out
}

func (p *plan) rewriteLocalNames(sub []byte) []byte {
	r := &reader{b: sub}
	n, err := r.count(2)
	if err != nil {
		return nil
	}
	out := make([]byte, 0, len(sub))
	kept := 0
	for i := 0; i < n; i++ {
		idx, err := r.u32()
		if err != nil {
			return nil
		}
		start := r.pos
		k, err := r.count(2)
		if err != nil {
			return nil
		}
		for j := 0; j < k; j++ {
			if _, err := r.u32(); err != nil {
				return nil
			}
			if _, err := r.name(); err != nil {
				return nil
			}
		}
		if idx >= p.numFuncs {
			continue
		}
		out = appendU32(out, p.remapFunc(idx))
		out = append(out, sub[start:r.pos]...)
		kept++
	}
	if r.len() != 0 {
		return nil
	}
	return append(appendU32(nil, uint32(kept)), out...)
}
