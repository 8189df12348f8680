package meter

import "fmt"

// Single-byte opcodes the rewriter treats specially. The rest of the MVP, sign-extension
// and reference-types opcodes are listed in plainCost.
const (
	opUnreachable  = 0x00
	opNop          = 0x01
	opBlock        = 0x02
	opLoop         = 0x03
	opIf           = 0x04
	opElse         = 0x05
	opEnd          = 0x0b
	opBr           = 0x0c
	opBrIf         = 0x0d
	opBrTable      = 0x0e
	opReturn       = 0x0f
	opCall         = 0x10
	opCallIndirect = 0x11
	opDrop         = 0x1a
	opSelect       = 0x1b
	opSelectT      = 0x1c
	opLocalGet     = 0x20
	opLocalSet     = 0x21
	opLocalTee     = 0x22
	opGlobalGet    = 0x23
	opGlobalSet    = 0x24
	opTableGet     = 0x25
	opTableSet     = 0x26
	opMemorySize   = 0x3f
	opMemoryGrow   = 0x40
	opI32Const     = 0x41
	opI64Const     = 0x42
	opF32Const     = 0x43
	opF64Const     = 0x44
	opI32Ne        = 0x47
	opI64LtS       = 0x53
	opI64GtS       = 0x55
	opI64Add       = 0x7c
	opI64Sub       = 0x7d
	opI64Shl       = 0x86
	opI64ShrU      = 0x88
	opI64ExtendI32 = 0xad // i64.extend_i32_u
	opRefNull      = 0xd0
	opRefIsNull    = 0xd1
	opRefFunc      = 0xd2
	opPrefixMisc   = 0xfc
	opPrefixSIMD   = 0xfd

	blockEmpty = 0x40
)

// 0xFC sub-opcodes that carry immediates or need a dynamic charge.
const (
	miscMemoryInit = 8
	miscDataDrop   = 9
	miscMemoryCopy = 10
	miscMemoryFill = 11
	miscTableInit  = 12
	miscElemDrop   = 13
	miscTableCopy  = 14
	miscTableGrow  = 15
	miscTableSize  = 16
	miscTableFill  = 17
)

// SIMD sub-opcodes with immediates other than none.
const (
	simdV128Const    = 0x0c
	simdI8x16Shuffle = 0x0d
)

// Static costs, in fuel units. The table is part of the metering contract: changing any
// value changes fuel counts and so requires bumping Version.
const (
	costFree     = 0  // structure only: nop, block, loop, else, end
	costBase     = 1  // every other instruction
	costDivide   = 4  // integer div/rem, float div/sqrt (scalar and SIMD)
	costCall     = 5  // call (the callee charges its own body)
	costIndirect = 10 // call_indirect: table bounds and signature check
	costGrow     = 20 // memory.grow, table.grow, plus the dynamic part on success
	costBulk     = 2  // memory/table fill, copy, init, plus the dynamic part
)

// Dynamic costs: shifts applied to the operand count of bulk and grow instructions.
const (
	bulkByteShift = 4  // memory.fill/copy/init: 1 unit per 16 bytes
	pageShift     = 12 // memory.grow: 65536/16 = 4096 units per page, on success
	elemShift     = 0  // table.fill/copy/init/grow: 1 unit per element
)

// valType reports whether b is a value type of CoreFeaturesV2.
func valType(b byte) bool {
	switch b {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f: // i32 i64 f32 f64 v128 funcref externref
		return true
	}
	return false
}

// refType reports whether b is a reference type of CoreFeaturesV2.
func refType(b byte) bool { return b == 0x70 || b == 0x6f }

// plainCost returns the cost of a single-byte opcode without control-flow meaning and
// whether the opcode exists in CoreFeaturesV2. Immediates are decoded by the caller.
func plainCost(op byte) (uint32, bool) {
	switch {
	case op == opNop:
		return costFree, true
	case op == opDrop, op == opSelect, op == opSelectT,
		op >= opLocalGet && op <= opTableSet,
		op >= 0x28 && op <= opMemorySize, // loads, stores, memory.size
		op >= opI32Const && op <= 0xc4,   // constants, numeric, sign extension
		op == opRefNull, op == opRefIsNull, op == opRefFunc:
		switch op {
		case 0x6d, 0x6e, 0x6f, 0x70, // i32.div_s div_u rem_s rem_u
			0x7f, 0x80, 0x81, 0x82, // i64.div_s div_u rem_s rem_u
			0x91, 0x95, // f32.sqrt f32.div
			0x9f, 0xa3: // f64.sqrt f64.div
			return costDivide, true
		}
		return costBase, true
	}
	return 0, false
}

// simdCost returns the cost of a SIMD sub-opcode and whether it exists in
// CoreFeaturesV2 (the fixed-width SIMD proposal as wazero implements it).
func simdCost(sub uint32) (uint32, bool) {
	if sub > 0xff {
		return 0, false
	}
	switch sub {
	case 0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb,
		0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee:
		return 0, false // unassigned in the SIMD proposal
	case 0xe3, 0xe7, 0xef, 0xf3: // f32x4.sqrt f32x4.div f64x2.sqrt f64x2.div
		return costDivide, true
	}
	return costBase, true
}

// simdImmediate describes the immediates of a SIMD sub-opcode.
type simdImmediate uint8

const (
	simdNone    simdImmediate = iota
	simdMemarg                // align, offset
	simdMemLane               // align, offset, lane byte
	simdLane                  // lane byte
	simdBytes16               // v128.const, i8x16.shuffle
)

func simdImmediates(sub uint32) simdImmediate {
	switch {
	case sub <= 0x0b, sub == 0x5c, sub == 0x5d: // loads, v128.store, load32/64_zero
		return simdMemarg
	case sub == simdV128Const, sub == simdI8x16Shuffle:
		return simdBytes16
	case sub >= 0x15 && sub <= 0x22: // extract_lane, replace_lane
		return simdLane
	case sub >= 0x54 && sub <= 0x5b: // load*_lane, store*_lane
		return simdMemLane
	}
	return simdNone
}

// readSIMDOpcode reads the sub-opcode after 0xFD. The binary format encodes it as a
// u32 LEB128 while wazero reads a single byte (an opcode of 0x80 or more then leaves a
// trailing 0x01, which wazero executes as nop). Only the canonical encodings, on which
// both readings agree, are accepted.
func readSIMDOpcode(r *reader) (uint32, error) {
	at := r.pos
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	if c < 0x80 {
		return uint32(c), nil
	}
	c2, err := r.byte()
	if err != nil {
		return 0, err
	}
	if c2 != 0x01 {
		return 0, fmt.Errorf("SIMD opcode at %#x: non-canonical or unknown encoding: %w", at, ErrUnsupported)
	}
	return uint32(c), nil
}
