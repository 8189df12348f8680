package meter

// appendCheckInline appends the check of the helper functions, which work on the fuel
// global itself:
//
//	if fuel < cost { refill(cost) }
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

// The code of a metered function keeps its fuel in a local, the fuel local, and
// writes it back to the fuel global wherever anything else may read or change the
// global: before every call (the callee, a host function or a helper uses the global)
// and when the function returns; after a call it reads the global again. Charges and
// checks are then register arithmetic: a global is a memory cell, and a chain of
// loads and stores of one cell through every region and call costs more than the
// code it meters (fib: 1.33x the unmetered module with the global, 1.1-1.2x with the
// local; a tight loop 2.2x and 1.45x).

// fuelLocal is the index of the fuel local: the first local after the function's own.
func (w *funcRewriter) fuelLocal() uint32 { return uint32(w.numLoc) }

// scratchLocal is the index of the i32 scratch local of bulk and grow instructions.
func (w *funcRewriter) scratchLocal() uint32 { return uint32(w.numLoc) + 1 }

// loadFuel appends fuel_local = fuel_global.
func (w *funcRewriter) loadFuel(b []byte) []byte {
	b = append(b, opGlobalGet)
	b = appendU32(b, w.p.globalFuel)
	b = append(b, opLocalSet)
	return appendU32(b, w.fuelLocal())
}

// storeFuel appends fuel_global = fuel_local.
func (w *funcRewriter) storeFuel(b []byte) []byte {
	b = append(b, opLocalGet)
	b = appendU32(b, w.fuelLocal())
	b = append(b, opGlobalSet)
	return appendU32(b, w.p.globalFuel)
}

// callHelper appends a call of a helper function (refill, grow), which works on the
// global: the local is written back before and read again after.
func (w *funcRewriter) callHelper(b []byte, fn uint32) []byte {
	b = w.storeFuel(b)
	b = append(b, opCall)
	b = appendU32(b, fn)
	return w.loadFuel(b)
}

// subtract appends fuel -= cost.
func (w *funcRewriter) subtract(b []byte, cost uint64) []byte {
	if cost == 0 {
		return b
	}
	b = append(b, opLocalGet)
	b = appendU32(b, w.fuelLocal())
	b = append(b, opI64Const)
	b = appendS64(b, int64(cost))
	b = append(b, opI64Sub, opLocalSet)
	return appendU32(b, w.fuelLocal())
}

// checkInline appends the check of a region's cost before its subtraction:
//
//	if fuel < cost { refill(cost) }
//
// The fuel holds only the fuel up to the next yield point, so the check is one compare
// and the slow path (refill, yield, out of fuel) stays out of line.
func (w *funcRewriter) checkInline(b []byte, cost uint64) []byte {
	b = append(b, opLocalGet)
	b = appendU32(b, w.fuelLocal())
	b = append(b, opI64Const)
	b = appendS64(b, int64(cost))
	b = append(b, opI64LtS, opIf, blockEmpty, opI64Const)
	b = appendS64(b, int64(cost))
	b = w.callHelper(b, w.p.fnRefill)
	return append(b, opEnd)
}

// checkBranch appends the check of a wrapped loop's header: when fuel < cost it leaves
// the loop for the refill path after it, which refills and re-enters the loop.
func (w *funcRewriter) checkBranch(b []byte, cost uint64) []byte {
	b = append(b, opLocalGet)
	b = appendU32(b, w.fuelLocal())
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
