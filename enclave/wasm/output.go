package wasm

import (
	"bytes"
	"math/rand/v2"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"
)

// keepBufferBytes is the largest output buffer a pooled run state keeps; a result larger
// than this takes the buffer with it instead of being copied.
const keepBufferBytes = 64 << 10

// runState is everything a run needs besides the module, pooled so that a warm run
// allocates little: the capped writers, the stdin reader, the random source and a
// ModuleConfig already pointing at them (wazero's ModuleConfig is immutable, so it is
// built once per runState, not per run).
type runState struct {
	stdout cappedWriter
	stderr cappedWriter
	stdin  bytes.Reader
	rng    rand.ChaCha8
	config wazero.ModuleConfig
}

func (e *Executor) newRunState() any {
	st := &runState{}
	st.stdout.limit, st.stdout.abort = e.cfg.MaxOutputBytes, true
	st.stderr.limit = e.cfg.MaxStderrBytes
	st.config = e.base.
		WithStdin(&st.stdin).
		WithStdout(&st.stdout).
		WithStderr(&st.stderr).
		WithRandSource(&st.rng)
	return st
}

// reset prepares st for a run of in.
func (st *runState) reset(in Input) {
	st.stdin.Reset(in.Stdin)
	st.rng.Seed(in.Seed)
	st.stdout.reset()
	st.stderr.reset()
}

// putRunState returns st to the pool without references to the run's data.
func (e *Executor) putRunState(st *runState) {
	st.stdin.Reset(nil)
	st.stdout.reset()
	st.stderr.reset()
	e.states.Put(st)
}

// stopGuest is the panic value that ends a guest from inside a host call. wazero turns a
// *sys.ExitError panic in a host function into the call's error (proc_exit works this
// way), so the guest stops at once, whatever loop it is in and whatever CPU limit is in
// force. The code is never reported: Run classifies by the writer's overflow flag.
var stopGuest = sys.NewExitError(sys.ExitCodeContextCanceled)

// cappedWriter keeps the first limit bytes written to it. Past the limit it records the
// overflow and then either stops the guest (abort: stdout, whose truncation fails the
// run) or drops the excess while reporting success (stderr, which is only diagnostics).
// A guest writes from one goroutine, so it needs no lock.
type cappedWriter struct {
	buf      []byte
	limit    int
	abort    bool
	overflow bool
}

// Write implements io.Writer.
func (w *cappedWriter) Write(p []byte) (int, error) {
	room := w.limit - len(w.buf)
	if len(p) <= room {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	w.buf = append(w.buf, p[:room]...)
	w.overflow = true
	if w.abort {
		panic(stopGuest)
	}
	return len(p), nil
}

func (w *cappedWriter) reset() {
	w.buf = w.buf[:0]
	w.overflow = false
}

// take returns the bytes written (nil if none) for a Result: a copy of a small buffer, so
// the buffer stays pooled, or the buffer itself when it has grown large.
func (w *cappedWriter) take() []byte {
	switch {
	case len(w.buf) == 0:
		return nil
	case cap(w.buf) > keepBufferBytes:
		out := w.buf
		w.buf = nil
		return out
	}
	return bytes.Clone(w.buf)
}
