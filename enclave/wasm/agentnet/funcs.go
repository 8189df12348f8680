package agentnet

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/agentnet/agentnode/enclave/wasm"
)

// The host functions decode their stack and hand plain values to the do* methods, which
// the tests also call directly.

func (m *Module) search(ctx context.Context, mod api.Module, stack []uint64) {
	run := RunFrom(ctx)
	q, err := readGuest(mod, stack[0], stack[1], MaxQueryBytes, "query")
	stack[0] = api.EncodeI32(m.doSearch(ctx, run, q, err, api.DecodeI32(stack[2])))
}

func (m *Module) call(ctx context.Context, mod api.Module, stack []uint64) {
	run := RunFrom(ctx)
	req, err := m.readCallArgs(mod, stack, false)
	stack[0] = api.EncodeI32(m.doCall(ctx, run, req, err, int64(stack[4]), api.DecodeI32(stack[5])))
}

func (m *Module) callBest(ctx context.Context, mod api.Module, stack []uint64) {
	run := RunFrom(ctx)
	req, err := m.readCallArgs(mod, stack, true)
	stack[0] = api.EncodeI32(m.doCall(ctx, run, req, err, int64(stack[4]), api.DecodeI32(stack[5])))
}

// readCallArgs reads a call's target (or query) and input from guest memory.
func (m *Module) readCallArgs(mod api.Module, stack []uint64, best bool) (CallRequest, error) {
	var req CallRequest
	if best {
		q, err := readGuest(mod, stack[0], stack[1], MaxQueryBytes, "query")
		if err != nil {
			return req, err
		}
		if req.Query, err = checkQuery(q); err != nil {
			return req, err
		}
	} else {
		t, err := readGuest(mod, stack[0], stack[1], maxTargetLen, "target")
		if err != nil {
			return req, err
		}
		if req.Peer, req.Agent, err = ParseTarget(string(t)); err != nil {
			return req, err
		}
	}
	in, err := readGuest(mod, stack[2], stack[3], m.cfg.MaxInputBytes, "input")
	req.Input = in
	return req, err
}

func (m *Module) resultLen(ctx context.Context, _ api.Module, stack []uint64) {
	run := RunFrom(ctx)
	data, err := run.field(api.DecodeI32(stack[0]), api.DecodeI32(stack[1]))
	if err != nil {
		stack[0] = api.EncodeI32(run.fail(err))
		return
	}
	stack[0] = api.EncodeI32(int32(len(data)))
}

func (m *Module) resultRead(ctx context.Context, mod api.Module, stack []uint64) {
	run := RunFrom(ctx)
	data, err := run.field(api.DecodeI32(stack[0]), api.DecodeI32(stack[1]))
	if err != nil {
		stack[0] = api.EncodeI32(run.fail(err))
		return
	}
	stack[0] = api.EncodeI32(run.copyOut(mod, data, stack[2], stack[3]))
}

func (m *Module) exitCode(ctx context.Context, _ api.Module, stack []uint64) {
	run := RunFrom(ctx)
	h, err := run.callHandle(api.DecodeI32(stack[0]))
	if err != nil {
		stack[0] = api.EncodeI64(int64(run.fail(err)))
		return
	}
	stack[0] = uint64(h.call.ExitCode)
}

func (m *Module) verified(ctx context.Context, _ api.Module, stack []uint64) {
	run := RunFrom(ctx)
	h, err := run.callHandle(api.DecodeI32(stack[0]))
	switch {
	case err != nil:
		stack[0] = api.EncodeI32(run.fail(err))
	case h.call.Verified:
		stack[0] = 1
	default:
		stack[0] = 0
	}
}

func (m *Module) closeHandle(ctx context.Context, _ api.Module, stack []uint64) {
	run := RunFrom(ctx)
	if err := run.closeHandle(api.DecodeI32(stack[0])); err != nil {
		stack[0] = api.EncodeI32(run.fail(err))
		return
	}
	stack[0] = 0
}

func (m *Module) errorLen(ctx context.Context, _ api.Module, stack []uint64) {
	run := RunFrom(ctx)
	if run == nil {
		stack[0] = api.EncodeI32(CodeUnavailable)
		return
	}
	stack[0] = api.EncodeI32(int32(len(run.LastError())))
}

func (m *Module) errorRead(ctx context.Context, mod api.Module, stack []uint64) {
	run := RunFrom(ctx)
	if run == nil {
		stack[0] = api.EncodeI32(CodeUnavailable)
		return
	}
	stack[0] = api.EncodeI32(run.copyOut(mod, []byte(run.LastError()), stack[0], stack[1]))
}

func (m *Module) budget(ctx context.Context, _ api.Module, stack []uint64) {
	run := RunFrom(ctx)
	if run == nil {
		stack[0] = api.EncodeI64(CodeUnavailable)
		return
	}
	run.mu.Lock()
	left := run.remainingLocked()
	run.mu.Unlock()
	stack[0] = uint64(min(left, 1<<63-1))
}

func (m *Module) depth(ctx context.Context, _ api.Module, stack []uint64) {
	run := RunFrom(ctx)
	if run == nil {
		stack[0] = api.EncodeI32(CodeUnavailable)
		return
	}
	stack[0] = api.EncodeI32(int32(run.cfg.Depth))
}

// doSearch runs a search for the guest and returns its handle or code.
func (m *Module) doSearch(ctx context.Context, run *Run, q []byte, argErr error, limit int32) int32 {
	if run == nil {
		return CodeUnavailable
	}
	query, err := checkQuery(q)
	if argErr != nil {
		err = argErr
	}
	switch {
	case err != nil:
		return run.fail(err)
	case limit < 0 || int(limit) > m.cfg.MaxSearchResults:
		return run.fail(fmt.Errorf("%w: limit %d: want 0 (default %d) to %d", ErrBadArgument, limit, DefaultSearchResults, m.cfg.MaxSearchResults))
	case limit == 0:
		limit = DefaultSearchResults
	}
	if err := m.admit(run); err != nil {
		return run.fail(err)
	}
	start := time.Now()
	var found []Agent
	var serr error
	if berr := wasm.Blocking(ctx, func() { found, serr = m.cfg.Network.Search(ctx, query, int(limit)) }); berr != nil && serr == nil {
		serr = fmt.Errorf("%w: %w", ErrTimeout, berr)
	}
	m.log.Debug("agent search", "caller", run.cfg.Caller, "depth", run.cfg.Depth, "results", len(found),
		"code", Code(serr), "took", time.Since(start))
	if serr != nil {
		return run.fail(fmt.Errorf("search: %w", serr))
	}
	if len(found) > int(limit) {
		found = found[:limit]
	}
	if found == nil {
		found = []Agent{}
	}
	out, err := json.Marshal(found)
	if err != nil {
		return run.fail(fmt.Errorf("%w: encode search results: %v", ErrRemote, err))
	}
	return run.store(&handle{output: out})
}

// doCall runs a call for the guest and returns its handle or code.
func (m *Module) doCall(ctx context.Context, run *Run, req CallRequest, argErr error, maxPrice int64, timeoutMS int32) int32 {
	if run == nil {
		return CodeUnavailable
	}
	switch {
	case argErr != nil:
		return run.fail(argErr)
	case maxPrice < 0:
		return run.fail(fmt.Errorf("%w: negative max_price %d", ErrBadArgument, maxPrice))
	case timeoutMS < 0:
		return run.fail(fmt.Errorf("%w: negative timeout_ms %d", ErrBadArgument, timeoutMS))
	case run.cfg.Depth+1 > m.cfg.MaxDepth:
		return run.fail(fmt.Errorf("%w: this agent runs at depth %d and this node allows calls %d deep", ErrDepth, run.cfg.Depth, m.cfg.MaxDepth))
	}
	if err := m.admit(run); err != nil {
		return run.fail(err)
	}
	run.mu.Lock()
	left := run.remainingLocked()
	run.mu.Unlock()
	req.MaxPrice = min(uint64(maxPrice), left)
	req.Caller, req.Depth = run.cfg.Caller, run.cfg.Depth+1

	cctx, cancel := ctx, context.CancelFunc(func() {})
	if timeoutMS > 0 {
		cctx, cancel = context.WithTimeout(ctx, time.Duration(timeoutMS)*time.Millisecond)
	}
	defer cancel()
	start := time.Now()
	var res CallResult
	var err error
	berr := wasm.Blocking(ctx, func() { res, err = m.cfg.Network.Call(cctx, req) })
	run.charge(res.Paid)
	switch {
	case err == nil && berr != nil:
		err = fmt.Errorf("%w: %w", ErrTimeout, berr)
	case err != nil && cctx.Err() != nil && Code(err) == CodeRemote:
		err = fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	m.log.Debug("agent call", "caller", run.cfg.Caller, "depth", run.cfg.Depth, "peer", res.Peer, "agent", res.Agent,
		"max_price", req.MaxPrice, "paid", res.Paid, "code", Code(err), "took", time.Since(start))
	if err != nil {
		if req.Query != "" {
			return run.fail(fmt.Errorf("call best match: %w", err))
		}
		return run.fail(fmt.Errorf("call %s/%s: %w", req.Peer, req.Agent, err))
	}
	if res.Duration == 0 {
		res.Duration = time.Since(start)
	}
	receipt, err := json.Marshal(receiptOf(&res))
	if err != nil {
		return run.fail(fmt.Errorf("%w: encode receipt: %v", ErrRemote, err))
	}
	return run.store(&handle{output: res.Output, receipt: receipt, call: &res})
}

// admit checks that the run may make one more search or call, and counts it. Arguments
// are checked before, so that a bad one costs nothing from the run's limits.
func (m *Module) admit(run *Run) error {
	run.mu.Lock()
	defer run.mu.Unlock()
	switch {
	case run.closed:
		return fmt.Errorf("%w: the run has ended", ErrUnavailable)
	case m.cfg.Network == nil:
		return fmt.Errorf("%w: this node is not on the agent network", ErrUnavailable)
	case run.calls >= m.cfg.MaxCallsPerRun:
		return fmt.Errorf("%w: %d searches and calls per run", ErrLimit, m.cfg.MaxCallsPerRun)
	case len(run.handles) >= m.cfg.MaxHandles:
		return fmt.Errorf("%w: %d open handles; close some", ErrLimit, m.cfg.MaxHandles)
	case run.held >= m.cfg.MaxHeldBytes:
		return fmt.Errorf("%w: open handles hold %d bytes, the cap is %d; close some", ErrLimit, run.held, m.cfg.MaxHeldBytes)
	}
	run.calls++
	return nil
}

// checkQuery validates a search query or call_best description.
func checkQuery(q []byte) (string, error) {
	s := strings.TrimSpace(string(q))
	switch {
	case s == "":
		return "", fmt.Errorf("%w: empty query", ErrBadArgument)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%w: query is not UTF-8", ErrBadArgument)
	}
	return s, nil
}

// receiptJSON is the receipt a guest reads (FieldReceipt).
type receiptJSON struct {
	Peer         string `json:"peer"`
	Agent        string `json:"agent"`
	ExitCode     uint32 `json:"exit_code"`
	Verified     bool   `json:"verified"`
	Commitment   string `json:"commitment"`
	Signature    string `json:"signature"`
	Platform     string `json:"platform"`
	ModuleSHA256 string `json:"module_sha256"`
	Paid         string `json:"paid"`
	Transaction  string `json:"transaction"`
	DurationMS   int64  `json:"duration_ms"`
}

func receiptOf(r *CallResult) receiptJSON {
	return receiptJSON{
		Peer: r.Peer, Agent: r.Agent, ExitCode: r.ExitCode, Verified: r.Verified,
		Commitment: hex.EncodeToString(r.Commitment[:]), Signature: hex.EncodeToString(r.Signature),
		Platform: r.Platform, ModuleSHA256: hex.EncodeToString(r.ModuleSHA256[:]),
		Paid: strconv.FormatUint(r.Paid, 10), Transaction: r.Transaction, DurationMS: r.Duration.Milliseconds(),
	}
}

// readGuest copies n bytes at ptr out of the guest's memory (the view goes stale when the
// memory grows). More than max bytes, or a range outside the memory, is ErrBadArgument.
func readGuest(mod api.Module, ptr, n uint64, max int, what string) ([]byte, error) {
	p, l := uint32(ptr), uint32(n)
	if int64(l) > int64(max) {
		return nil, fmt.Errorf("%w: %s is %d bytes, at most %d", ErrBadArgument, what, l, max)
	}
	if l == 0 {
		return nil, nil
	}
	mem := mod.Memory()
	if mem == nil {
		return nil, fmt.Errorf("%w: the module exports no memory", ErrBadArgument)
	}
	b, ok := mem.Read(p, l)
	if !ok {
		return nil, fmt.Errorf("%w: %s (%d bytes at %d) is outside the guest's memory", ErrBadArgument, what, l, p)
	}
	return append([]byte(nil), b...), nil
}
