package agentnet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// memoryModule is (module (memory (export "memory") 1)): a guest with one page of memory
// for calling the host functions directly.
var memoryModule = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x05, 0x03, 0x01, 0x00, 0x01,
	0x07, 0x0a, 0x01, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00}

// guest instantiates memoryModule in a fresh runtime.
func guest(t testing.TB) api.Module {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = r.Close(ctx) })
	mod, err := r.Instantiate(ctx, memoryModule)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// stubNet answers every call with a fixed result or error, after an optional wait.
type stubNet struct {
	res   CallResult
	err   error
	wait  time.Duration
	calls []CallRequest
}

func (s *stubNet) Search(ctx context.Context, query string, limit int) ([]Agent, error) {
	if s.err != nil {
		return nil, s.err
	}
	return []Agent{{Peer: "p", Agent: "a", Price: "0"}, {Peer: "p", Agent: "b", Price: "1"}}, nil
}

func (s *stubNet) Call(ctx context.Context, req CallRequest) (CallResult, error) {
	s.calls = append(s.calls, req)
	if s.wait > 0 {
		select {
		case <-time.After(s.wait):
		case <-ctx.Done():
			return CallResult{}, ctx.Err()
		}
	}
	return s.res, s.err
}

func newModule(t testing.TB, nw Network, cfg Config) *Module {
	t.Helper()
	cfg.Network = nw
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// put writes s into the guest's memory at off.
func put(t testing.TB, mod api.Module, off uint32, s string) (uint64, uint64) {
	t.Helper()
	if !mod.Memory().Write(off, []byte(s)) {
		t.Fatal("write guest memory")
	}
	return uint64(off), uint64(len(s))
}

func i32s(vs ...int32) []uint64 {
	out := make([]uint64, len(vs))
	for i, v := range vs {
		out[i] = api.EncodeI32(v)
	}
	return out
}

func TestReadsAndBuffers(t *testing.T) {
	mod := guest(t)
	nw := &stubNet{res: CallResult{Peer: "p", Agent: "a", Output: []byte("hello world"), ExitCode: 3, Verified: true, Paid: 5}}
	m := newModule(t, nw, Config{})
	run := NewRun(RunConfig{Caller: "me", Budget: 100})
	ctx := WithRun(context.Background(), run)

	tp, tl := put(t, mod, 0, "p/a")
	ip, il := put(t, mod, 16, "input")
	stack := []uint64{tp, tl, ip, il, 50, 0}
	m.call(ctx, mod, stack)
	h := api.DecodeI32(stack[0])
	if h != 1 || run.Spent() != 5 || nw.calls[0].MaxPrice != 50 || nw.calls[0].Caller != "me" || nw.calls[0].Depth != 1 || string(nw.calls[0].Input) != "input" {
		t.Fatalf("call: handle %d, spent %d, request %+v", h, run.Spent(), nw.calls)
	}

	// result_len, then a read into a buffer one byte short: -7, nothing written.
	stack = i32s(h, FieldOutput)
	m.resultLen(ctx, mod, stack)
	if api.DecodeI32(stack[0]) != 11 {
		t.Fatalf("result_len %d", api.DecodeI32(stack[0]))
	}
	stack = i32s(h, FieldOutput, 100, 10)
	m.resultRead(ctx, mod, stack)
	if api.DecodeI32(stack[0]) != CodeBufferTooSmall || !strings.Contains(run.LastError(), "11 bytes needed") {
		t.Fatalf("short read: %d %q", api.DecodeI32(stack[0]), run.LastError())
	}
	stack = i32s(h, FieldOutput, 100, 11)
	m.resultRead(ctx, mod, stack)
	if got, _ := mod.Memory().Read(100, 11); api.DecodeI32(stack[0]) != 11 || string(got) != "hello world" {
		t.Fatalf("read: %d %q", api.DecodeI32(stack[0]), got)
	}
	stack = i32s(h, FieldCommitment, 200, 32)
	m.resultRead(ctx, mod, stack)
	if api.DecodeI32(stack[0]) != 32 {
		t.Fatalf("commitment read %d", api.DecodeI32(stack[0]))
	}
	stack = i32s(h)
	m.exitCode(ctx, mod, stack)
	if int64(stack[0]) != 3 {
		t.Fatalf("exit_code %d", int64(stack[0]))
	}
	stack = i32s(h)
	m.verified(ctx, mod, stack)
	if api.DecodeI32(stack[0]) != 1 {
		t.Fatal("verified")
	}
	stack = []uint64{0}
	m.budget(ctx, mod, stack)
	if int64(stack[0]) != 95 {
		t.Fatalf("budget %d", int64(stack[0]))
	}
	m.depth(ctx, mod, stack)
	if api.DecodeI32(stack[0]) != 0 {
		t.Fatalf("depth %d", api.DecodeI32(stack[0]))
	}

	// Hostile reads: a buffer past the memory, a bad field, an unknown handle.
	for _, tc := range []struct {
		name  string
		stack []uint64
		want  int32
	}{
		{"buffer past memory", i32s(h, FieldOutput, 65530, 11), CodeBadArgument},
		{"negative pointer", i32s(h, FieldOutput, -1, 11), CodeBadArgument},
		{"unknown field", i32s(h, 9, 0, 100), CodeBadArgument},
		{"unknown handle", i32s(99, FieldOutput, 0, 100), CodeBadArgument},
		{"handle 0", i32s(0, FieldOutput, 0, 100), CodeBadArgument},
	} {
		m.resultRead(ctx, mod, tc.stack)
		if got := api.DecodeI32(tc.stack[0]); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}

	// Search results have only an output field, and no exit code.
	qp, ql := put(t, mod, 300, "anything")
	stack = []uint64{qp, ql, 0}
	m.search(ctx, mod, stack)
	s := api.DecodeI32(stack[0])
	if s != 2 {
		t.Fatalf("search handle %d (%s)", s, run.LastError())
	}
	stack = i32s(s, FieldReceipt)
	m.resultLen(ctx, mod, stack)
	if api.DecodeI32(stack[0]) != CodeBadArgument {
		t.Fatal("a search has a receipt")
	}
	stack = i32s(s)
	m.exitCode(ctx, mod, stack)
	if int64(stack[0]) != CodeBadArgument {
		t.Fatalf("exit_code of a search: %d", int64(stack[0]))
	}

	// close frees a handle once; error_read copies the last error.
	stack = i32s(h)
	m.closeHandle(ctx, mod, stack)
	if stack[0] != 0 {
		t.Fatal("close")
	}
	m.closeHandle(ctx, mod, stack)
	if api.DecodeI32(stack[0]) != CodeBadArgument {
		t.Fatal("second close")
	}
	stack = []uint64{0}
	m.errorLen(ctx, mod, stack)
	n := api.DecodeI32(stack[0])
	stack = []uint64{400, uint64(n)}
	m.errorRead(ctx, mod, stack)
	if got, _ := mod.Memory().Read(400, uint32(n)); api.DecodeI32(stack[0]) != n || string(got) != run.LastError() || n == 0 {
		t.Fatalf("error_read %d %q", api.DecodeI32(stack[0]), got)
	}

	// After the run ends every call is unavailable.
	run.Close()
	stack = i32s(s, FieldOutput)
	m.resultLen(ctx, mod, stack)
	if api.DecodeI32(stack[0]) != CodeUnavailable {
		t.Fatalf("after close: %d", api.DecodeI32(stack[0]))
	}
	stack = []uint64{tp, tl, ip, il, 50, 0}
	m.call(ctx, mod, stack)
	if api.DecodeI32(stack[0]) != CodeUnavailable || len(nw.calls) != 1 {
		t.Fatalf("call after close: %d", api.DecodeI32(stack[0]))
	}
}

func TestBudgetAndLimits(t *testing.T) {
	mod := guest(t)
	nw := &stubNet{res: CallResult{Peer: "p", Agent: "a", Output: []byte("x"), Paid: 40}}
	m := newModule(t, nw, Config{MaxCallsPerRun: 3, MaxHandles: 2})
	run := NewRun(RunConfig{Budget: 100})
	ctx := WithRun(context.Background(), run)
	call := func(maxPrice int64) int32 {
		return m.doCall(ctx, run, CallRequest{Peer: "p", Agent: "a"}, nil, maxPrice, 0)
	}
	if h := call(1000); h != 1 || nw.calls[0].MaxPrice != 100 {
		t.Fatalf("first call %d, limit %d", h, nw.calls[0].MaxPrice)
	}
	if h := call(30); h != 2 || nw.calls[1].MaxPrice != 30 {
		t.Fatalf("second call %d, limit %d", h, nw.calls[1].MaxPrice)
	}
	// Two handles open: the limit stops the third call before the network.
	if c := call(1000); c != CodeLimit || len(nw.calls) != 2 || !strings.Contains(run.LastError(), "open handles") {
		t.Fatalf("third call %d %q", c, run.LastError())
	}
	if err := run.closeHandle(1); err != nil {
		t.Fatal(err)
	}
	// 80 spent: the remaining 20 is this call's limit however much the guest allows.
	if h := call(1000); h != 3 || nw.calls[2].MaxPrice != 20 {
		t.Fatalf("fourth call %d, limit %d", h, nw.calls[2].MaxPrice)
	}
	if run.Spent() != 120 { // the stub charges over the limit; the run counts what was paid
		t.Fatalf("spent %d", run.Spent())
	}
	_ = run.closeHandle(2)
	if c := call(1000); c != CodeLimit || !strings.Contains(run.LastError(), "3 searches and calls per run") {
		t.Fatalf("call past MaxCallsPerRun: %d %q", c, run.LastError())
	}
	if c := m.doCall(ctx, run, CallRequest{}, nil, -1, 0); c != CodeBadArgument {
		t.Fatalf("a bad call past the limit: %d", c)
	}
	fresh := NewRun(RunConfig{})
	if c := m.doCall(ctx, fresh, CallRequest{}, nil, -1, 0); c != CodeBadArgument {
		t.Fatalf("negative max_price: %d", c)
	}
	if c := m.doCall(ctx, fresh, CallRequest{}, nil, 0, -5); c != CodeBadArgument {
		t.Fatalf("negative timeout: %d", c)
	}
	if c := m.doSearch(ctx, fresh, []byte("q"), nil, 21); c != CodeBadArgument {
		t.Fatalf("limit over MaxSearchResults: %d", c)
	}
	if c := m.doSearch(ctx, fresh, []byte("  "), nil, 1); c != CodeBadArgument {
		t.Fatalf("blank query: %d", c)
	}
	_ = mod
}

func TestCallErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		paid    uint64
		want    int32
		timeout int32
		wait    time.Duration
	}{
		{"denied", ErrDenied, 0, CodeDenied, 0, 0},
		{"not found", ErrNotFound, 0, CodeNotFound, 0, 0},
		{"remote after paying", errors.New("trap"), 7, CodeRemote, 0, 0},
		{"callee timeout", ErrTimeout, 0, CodeTimeout, 0, 0},
		{"guest's timeout_ms", nil, 0, CodeTimeout, 20, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nw := &stubNet{err: tc.err, res: CallResult{Paid: tc.paid}, wait: tc.wait}
			m := newModule(t, nw, Config{})
			run := NewRun(RunConfig{Budget: 100})
			start := time.Now()
			c := m.doCall(WithRun(context.Background(), run), run, CallRequest{Peer: "p", Agent: "a"}, nil, 100, tc.timeout)
			if c != tc.want || run.Spent() != tc.paid || run.LastError() == "" {
				t.Fatalf("code %d, spent %d, last error %q", c, run.Spent(), run.LastError())
			}
			if time.Since(start) > 10*time.Second {
				t.Fatal("timeout_ms was not applied")
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	good := map[string][2]string{"12D3KooWabc/arxiv": {"12D3KooWabc", "arxiv"}, "p/a-b_c.d": {"p", "a-b_c.d"}}
	for in, want := range good {
		p, a, err := ParseTarget(in)
		if err != nil || p != want[0] || a != want[1] {
			t.Errorf("ParseTarget(%q) = %q, %q, %v", in, p, a, err)
		}
	}
	for _, in := range []string{"", "/", "p/", "/a", "p/a/b", "p a/b", "p/a\n", "p/\x00", strings.Repeat("p", 200) + "/a", "p/" + strings.Repeat("a", 65)} {
		if _, _, err := ParseTarget(in); !errors.Is(err, ErrBadArgument) {
			t.Errorf("ParseTarget(%q) accepted", in)
		}
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"12D3KooWabc/arxiv", "p/a", "", "/", "p/a/b", "p\x00/a", "ü/ß"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, a, err := ParseTarget(s)
		if err != nil {
			if !errors.Is(err, ErrBadArgument) {
				t.Fatalf("error %v is not ErrBadArgument", err)
			}
			return
		}
		if p+"/"+a != s || !isToken(p) || !isToken(a) || len(p) > maxPeerLen || len(a) > maxAgentLen {
			t.Fatalf("ParseTarget(%q) = %q, %q", s, p, a)
		}
	})
}

// FuzzHostCalls calls every host function with arbitrary stack values against a guest
// with one page of memory: nothing panics, and every result is a value or an ABI code.
func FuzzHostCalls(f *testing.F) {
	f.Add(uint8(0), uint64(0), uint64(3), uint64(16), uint64(5), uint64(10), uint64(0))
	f.Add(uint8(1), uint64(65535), uint64(2), uint64(0), uint64(1<<32-1), uint64(1<<63), uint64(1<<31))
	f.Add(uint8(4), uint64(1), uint64(0), uint64(65000), uint64(1000), uint64(0), uint64(0))
	f.Add(uint8(9), uint64(0), uint64(1<<20), uint64(0), uint64(0), uint64(0), uint64(0))
	mod := guest(f)
	put(f, mod, 0, "p/a")
	f.Fuzz(func(t *testing.T, fn uint8, a, b, c, d, e, g uint64) {
		nw := &stubNet{res: CallResult{Output: []byte("out"), Paid: 1}}
		m := newModule(t, nw, Config{})
		run := NewRun(RunConfig{Budget: 10})
		ctx := WithRun(context.Background(), run)
		funcs := m.functions()
		h := funcs[int(fn)%len(funcs)]
		if fn%3 == 0 { // give most runs an open handle to aim at
			m.doCall(ctx, run, CallRequest{Peer: "p", Agent: "a"}, nil, 10, 0)
		}
		stack := []uint64{a, b, c, d, e, g}
		h.fn(ctx, mod, stack)
		if h.results[0] == api.ValueTypeI64 {
			if v := int64(stack[0]); v < CodeLimit {
				t.Fatalf("%s returned %d", h.name, v)
			}
		} else if v := api.DecodeI32(stack[0]); v < CodeLimit {
			t.Fatalf("%s returned %d", h.name, v)
		}
	})
}
