package wasm

import (
	"math/bits"
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

const (
	pageBytes = 64 << 10
	// memoryClasses is the number of pooled buffer sizes: 1, 2, 4, ..., 32 pages
	// (64 KiB to 2 MiB). Larger memories are rare enough to leave to the allocator.
	memoryClasses = 6
)

// memoryPool recycles guest linear memories on the Go heap. Without it every run
// allocates at least 64 KiB of zeroed memory, and on a warm tiny module that garbage,
// not WebAssembly, dominates the cost of a run.
//
// Invariant: a pooled buffer has length 0 and is zero up to its capacity, so a new
// instance sees the zeroed memory WebAssembly requires. A buffer returns to the pool only
// when wazero frees the instance that owned it (on the guest's goroutine, after the
// instance stops running); buffers left behind by memory.grow go to the garbage collector,
// so a stale host-side view of a grown memory can never alias another instance.
type memoryPool struct {
	classes [memoryClasses]sync.Pool // class c holds *linearMemory with buffers of capacity pageBytes<<c
}

// Allocate implements experimental.MemoryAllocator.
func (p *memoryPool) Allocate(capBytes, maxBytes uint64) experimental.LinearMemory {
	if c, ok := memoryClass(max(capBytes, pageBytes)); ok && pageBytes<<c <= maxBytes {
		m, _ := p.classes[c].Get().(*linearMemory)
		if m == nil {
			m = &linearMemory{pool: p, buf: make([]byte, 0, pageBytes<<c)}
		}
		m.max = maxBytes
		return m
	}
	return &linearMemory{pool: p, max: maxBytes}
}

// memoryClass returns the pool class whose buffers hold n bytes, if any.
func memoryClass(n uint64) (int, bool) {
	pages := (n + pageBytes - 1) / pageBytes
	c := bits.Len64(pages - 1) // smallest c with 1<<c >= pages
	return c, c < memoryClasses
}

// linearMemory is one instance's memory: buf[:len] is the guest's memory and
// buf[used:cap] is zero (used is the largest length the memory has had; wazero never
// shrinks a memory, but Free does not rely on it).
type linearMemory struct {
	pool *memoryPool
	buf  []byte
	used int
	max  uint64
}

// Reallocate implements experimental.LinearMemory: it grows the memory to size bytes,
// within the capacity if it can, else into a new buffer of twice the capacity (capped at
// max) so that a guest growing page by page copies O(size) bytes in total.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		m.used = max(m.used, len(m.buf))
		return m.buf
	}
	capacity := min(max(size, 2*uint64(cap(m.buf))), m.max)
	grown := make([]byte, size, capacity)
	copy(grown, m.buf)
	m.buf, m.used = grown, len(grown)
	return m.buf
}

// Free implements experimental.LinearMemory: it zeroes the used part of the buffer and
// returns the memory to the pool if its buffer has a pooled size.
func (m *linearMemory) Free() {
	c, ok := memoryClass(uint64(cap(m.buf)))
	if !ok || uint64(cap(m.buf)) != pageBytes<<c {
		m.buf, m.used = nil, 0
		return
	}
	clear(m.buf[:m.used])
	m.buf, m.used = m.buf[:0], 0
	m.pool.classes[c].Put(m)
}
