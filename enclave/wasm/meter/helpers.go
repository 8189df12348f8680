package meter

// appendCharge appends the inline charge of a metered region:
//
//	fuel -= cost
//	if fuel < 0 { refill() }
//
// The fuel global holds only the fuel up to the next yield point, so the check is a
// compare with zero and the slow path (refill, yield, out of fuel) stays out of line.
func (p *plan) appendCharge(b []byte, cost uint64) []byte {
	b = append(b, opGlobalGet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opI64Const)
	b = appendS64(b, int64(cost))
	b = append(b, opI64Sub, opGlobalSet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opGlobalGet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opI64Const, 0x00, opI64LtS, opIf, blockEmpty, opCall)
	b = appendU32(b, p.fnRefill)
	return append(b, opEnd)
}

// appendHelpers appends the code entries of the three added functions.
func (p *plan) appendHelpers(out []byte) []byte {
	for _, body := range [][]byte{p.refillBody(), p.chargeBody(), p.growBody()} {
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out
}

// refillBody is called when the fuel global drops below zero:
//
//	total := fuel + reserve
//	if total < 0 { out_of_fuel(); unreachable }
//	fuel = min(total, interval); reserve = total - fuel
//	yield()
func (p *plan) refillBody() []byte {
	b := []byte{0x01, 0x01, 0x7e} // one local: total i64
	b = append(b, opGlobalGet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opGlobalGet)
	b = appendU32(b, p.globalReserve)
	b = append(b, opI64Add, opLocalTee, 0x00, opI64Const, 0x00, opI64LtS, opIf, blockEmpty, opCall)
	b = appendU32(b, p.fnOutOfFuel)
	b = append(b, opUnreachable, opEnd)
	// select(total, interval, total < interval)
	b = append(b, opLocalGet, 0x00, opI64Const)
	b = appendS64(b, int64(p.cfg.yieldInterval))
	b = append(b, opLocalGet, 0x00, opI64Const)
	b = appendS64(b, int64(p.cfg.yieldInterval))
	b = append(b, opI64LtS, opSelect, opGlobalSet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opLocalGet, 0x00, opGlobalGet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opI64Sub, opGlobalSet)
	b = appendU32(b, p.globalReserve)
	b = append(b, opCall)
	b = appendU32(b, p.fnYield)
	return append(b, opEnd)
}

// chargeBody charges a dynamic amount (its i64 parameter):
//
//	fuel -= amount
//	if fuel < 0 { refill() }
func (p *plan) chargeBody() []byte {
	b := []byte{0x00, opGlobalGet}
	b = appendU32(b, p.globalFuel)
	b = append(b, opLocalGet, 0x00, opI64Sub, opGlobalSet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opGlobalGet)
	b = appendU32(b, p.globalFuel)
	b = append(b, opI64Const, 0x00, opI64LtS, opIf, blockEmpty, opCall)
	b = appendU32(b, p.fnRefill)
	return append(b, opEnd, opEnd)
}

// growBody takes a grow result and an amount, charges the amount when the grow
// succeeded (result != -1) and returns the result:
//
//	if result != -1 { charge(amount) }
//	return result
func (p *plan) growBody() []byte {
	b := []byte{0x00, opLocalGet, 0x00, opI32Const, 0x7f, opI32Ne, opIf, blockEmpty, opLocalGet, 0x01, opCall}
	b = appendU32(b, p.fnCharge)
	return append(b, opEnd, opLocalGet, 0x00, opEnd)
}
