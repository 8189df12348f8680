package wasm

import (
	"bytes"
	"testing"
)

func TestMemoryClass(t *testing.T) {
	tests := []struct {
		bytes uint64
		class int
		ok    bool
	}{
		{1, 0, true},
		{pageBytes, 0, true},
		{pageBytes + 1, 1, true},
		{2 * pageBytes, 1, true},
		{3 * pageBytes, 2, true},
		{32 * pageBytes, 5, true},
		{33 * pageBytes, 6, false},
	}
	for _, tt := range tests {
		if c, ok := memoryClass(tt.bytes); c != tt.class || ok != tt.ok {
			t.Errorf("memoryClass(%d) = %d, %v; want %d, %v", tt.bytes, c, ok, tt.class, tt.ok)
		}
	}
}

func TestMemoryPoolReturnsZeroedMemory(t *testing.T) {
	var p memoryPool
	const maxBytes = 16 * pageBytes
	for round := range 50 {
		m := p.Allocate(pageBytes, maxBytes)
		buf := m.Reallocate(pageBytes)
		if len(buf) != pageBytes {
			t.Fatalf("len %d", len(buf))
		}
		if !isZero(buf[:cap(buf)]) {
			t.Fatalf("round %d: reused memory is not zero", round)
		}
		buf = m.Reallocate(3 * pageBytes) // grow past the pooled capacity
		if len(buf) != 3*pageBytes || !isZero(buf[:cap(buf)]) {
			t.Fatalf("round %d: grown memory is %d bytes or not zero", round, len(buf))
		}
		for i := range buf {
			buf[i] = byte(i) | 1
		}
		if got := m.Reallocate(2 * pageBytes); len(got) != 2*pageBytes || !bytes.Equal(got, buf[:2*pageBytes]) {
			t.Fatal("shrinking Reallocate lost data")
		}
		if round%2 == 0 {
			m.Reallocate(3 * pageBytes)
		}
		m.Free() // after a shrink too: the pool must not hand out the dirty tail
	}
}

func TestMemoryPoolRespectsMax(t *testing.T) {
	var p memoryPool
	m := p.Allocate(pageBytes, 3*pageBytes)
	if buf := m.Reallocate(3 * pageBytes); len(buf) != 3*pageBytes || cap(buf) > 3*pageBytes {
		t.Fatalf("len %d cap %d, want 3 pages within max", len(buf), cap(buf))
	}
	if buf := m.Reallocate(3*pageBytes + 1); buf != nil {
		t.Fatal("Reallocate past max succeeded")
	}
	m.Free() // a 3-page buffer has no class: dropped, not pooled
	if got := p.classes[1].Get(); got != nil {
		t.Fatalf("pool holds %v", got)
	}

	// A memory whose minimum exceeds the largest class is not pooled either.
	big := p.Allocate(64*pageBytes, 128*pageBytes)
	if buf := big.Reallocate(64 * pageBytes); len(buf) != 64*pageBytes || !isZero(buf) {
		t.Fatal("large memory")
	}
	big.Free()
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
