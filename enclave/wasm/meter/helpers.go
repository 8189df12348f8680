package meter

// appendSubtract appends fuel -= cost.
func (p *plan) appendSubtract(b []byte, cost uint64) []byte {
	if cost == 0 {
		return b
	}
	b = append(b, opGlobalGet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opI64Const)
	b = appendS64(b, int64(cost))
	b = append(b, opI64Sub, opGlobalSet)
	return appendU32(b, p.globalFuel)
}

// appendCheckInline appends the check of a region's cost before its subtraction:
//
//	if fuel < cost { refill(cost) }
//
// The fuel global holds only the fuel up to the next yield point, so the check is one
// compare and the slow path (refill, yield, out of fuel) stays out of line.
func (p *plan) appendCheckInline(b []byte, cost uint64) []byte {
	b = append(b, opGlobalGet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opI64Const)
	b = appendS64(b, int64(cost))
	b = append(b, opI64LtS, opIf, blockEmpty, opI64Const)
	b = appendS64(b, int64(cost))
	b = append(b, opCall)
	b = appendU32(b, p.fnRefill)
	return append(b, opEnd)
}

// appendCheckBranch appends the check of a wrapped loop's header: when fuel < cost it
// leaves the loop for the refill path after it, which refills and re-enters the loop.
func (p *plan) appendCheckBranch(b []byte, cost uint64) []byte {
	b = append(b, opGlobalGet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opI64Const)
	b = appendS64(b, int64(cost))
	return append(b, opI64LtS, opBrIf, 0x01)
}

// appendHelpers appends the code entries of the added functions.
func (p *plan) appendHelpers(out []byte) []byte {
	for _, body := range [][]byte{p.refillBody(), p.growBody()} {
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out
}

// refillBody is refill(need), called when a check finds fuel < need:
//
//	total := fuel + reserve
//	if total < need { out_of_fuel(); unreachable }
//	fuel = min(total, max(interval, need)); reserve = total - fuel
//	yield()
func (p *plan) refillBody() []byte {
	const need, total, slice = 0, 1, 2
	b := []byte{0x01, 0x02, 0x7e} // two locals: total, slice i64
	b = append(b, opGlobalGet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opGlobalGet)
	b = appendU32(b, p.globalReserve)
	b = append(b, opI64Add, opLocalTee, total, opLocalGet, need, opI64LtS, opIf, blockEmpty, opCall)
	b = appendU32(b, p.fnOutOfFuel)
	b = append(b, opUnreachable, opEnd)
	// slice = select(interval, need, interval > need)
	b = append(b, opI64Const)
	b = appendS64(b, int64(p.cfg.yieldInterval))
	b = append(b, opLocalGet, need, opI64Const)
	b = appendS64(b, int64(p.cfg.yieldInterval))
	b = append(b, opLocalGet, need, opI64GtS, opSelect, opLocalSet, slice)
	// fuel = select(total, slice, total < slice)
	b = append(b, opLocalGet, total, opLocalGet, slice, opLocalGet, total, opLocalGet, slice, opI64LtS, opSelect, opGlobalSet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opLocalGet, total, opGlobalGet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opI64Sub, opGlobalSet)
	b = appendU32(b, p.globalReserve)
	b = append(b, opCall)
	b = appendU32(b, p.fnYield)
	return append(b, opEnd)
}

// growBody is grow(result, amount): it subtracts amount when the grow succeeded (result
// != -1), the work being done only then, checks the fuel, and returns result.
func (p *plan) growBody() []byte {
	b := []byte{0x00, opLocalGet, 0x00, opI32Const, 0x7f, opI32Ne, opIf, blockEmpty, opGlobalGet}
	b = appendU32(b, p.globalFuel)
	b = append(b, opLocalGet, 0x01, opI64Sub, opGlobalSet)
	b = appendU32(b, p.globalFuel)
	b = p.appendCheckInline(b, 0)
	return append(b, opEnd, opLocalGet, 0x00, opEnd)
}
