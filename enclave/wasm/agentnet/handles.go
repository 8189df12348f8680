package agentnet

import (
	"fmt"
	"math"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// fail records err as the run's last error and returns its code. A nil run (no agent
// calls in this run) records nothing.
func (r *Run) fail(err error) int32 {
	code := Code(err)
	if r == nil {
		return CodeUnavailable
	}
	msg := strings.ToValidUTF8(err.Error(), "?")
	if len(msg) > MaxErrorBytes {
		msg = strings.ToValidUTF8(msg[:MaxErrorBytes-3], "") + "..."
	}
	r.mu.Lock()
	r.lastErr = msg
	r.mu.Unlock()
	return code
}

// charge adds a call's payment to what the run spent.
func (r *Run) charge(paid uint64) {
	if paid == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spent > math.MaxUint64-paid {
		r.spent = math.MaxUint64
		return
	}
	r.spent += paid
}

// store adds h to the handle table and returns its handle. Handles count up from 1 and
// are never reused within a run, so a stale handle cannot name a newer result.
func (r *Run) store(h *handle) int32 {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return r.fail(fmt.Errorf("%w: the run has ended", ErrUnavailable))
	}
	if r.next == math.MaxInt32 {
		r.mu.Unlock()
		return r.fail(fmt.Errorf("%w: handles exhausted", ErrLimit))
	}
	r.next++
	id := r.next
	r.handles[id] = h
	r.held += h.size()
	r.mu.Unlock()
	return id
}

// get returns handle id; an unknown one is ErrBadArgument.
func (r *Run) get(id int32) (*handle, error) {
	if r == nil {
		return nil, ErrUnavailable
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("%w: the run has ended", ErrUnavailable)
	}
	h, ok := r.handles[id]
	if !ok {
		return nil, fmt.Errorf("%w: no open handle %d", ErrBadArgument, id)
	}
	return h, nil
}

// callHandle returns handle id, which must hold a call's result.
func (r *Run) callHandle(id int32) (*handle, error) {
	h, err := r.get(id)
	if err != nil {
		return nil, err
	}
	if h.call == nil {
		return nil, fmt.Errorf("%w: handle %d holds search results, not a call's result", ErrBadArgument, id)
	}
	return h, nil
}

// field returns the bytes of one field of handle id.
func (r *Run) field(id, field int32) ([]byte, error) {
	h, err := r.get(id)
	if err != nil {
		return nil, err
	}
	switch {
	case field == FieldOutput:
		return h.output, nil
	case h.call == nil:
		return nil, fmt.Errorf("%w: handle %d holds search results: only field %d (output) exists", ErrBadArgument, id, FieldOutput)
	case field == FieldReceipt:
		return h.receipt, nil
	case field == FieldCommitment:
		return h.call.Commitment[:], nil
	}
	return nil, fmt.Errorf("%w: unknown field %d", ErrBadArgument, field)
}

// closeHandle drops handle id from the table.
func (r *Run) closeHandle(id int32) error {
	if _, err := r.get(id); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if h, ok := r.handles[id]; ok {
		r.held -= h.size()
		delete(r.handles, id)
	}
	return nil
}

// copyOut writes data into the guest's buffer (ptr, n) and returns len(data), or
// CodeBufferTooSmall when it does not fit (nothing is written), or CodeBadArgument when
// the buffer is outside the guest's memory.
func (r *Run) copyOut(mod api.Module, data []byte, ptr, n uint64) int32 {
	p, l := uint32(ptr), uint32(n)
	if uint64(len(data)) > uint64(l) {
		return r.fail(fmt.Errorf("%w: %d bytes needed, the buffer has %d", ErrBufferTooSmall, len(data), l))
	}
	if len(data) > math.MaxInt32 {
		return r.fail(fmt.Errorf("%w: %d bytes do not fit an i32 length", ErrLimit, len(data)))
	}
	if len(data) == 0 {
		return 0
	}
	mem := mod.Memory()
	if mem == nil || !mem.Write(p, data) {
		return r.fail(fmt.Errorf("%w: buffer (%d bytes at %d) is outside the guest's memory", ErrBadArgument, l, p))
	}
	return int32(len(data))
}
