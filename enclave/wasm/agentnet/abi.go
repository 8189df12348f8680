package agentnet

import (
	"context"
	"errors"

	"github.com/tetratelabs/wazero/api"
)

// ABI return codes: every function returns a value >= 0 on success, one of these on
// failure. They are stable: guests compare against the numbers.
const (
	CodeBadArgument    = -1
	CodeNotFound       = -2
	CodeDenied         = -3
	CodeDepth          = -4
	CodeRemote         = -5
	CodeTimeout        = -6
	CodeBufferTooSmall = -7
	CodeUnavailable    = -8
	CodeLimit          = -9
)

// Result fields that result_len and result_read take.
const (
	// FieldOutput is a call's output (the callee's stdout), or a search's JSON array.
	FieldOutput = 0
	// FieldReceipt is a call's receipt as JSON (see docs/abi.md).
	FieldReceipt = 1
	// FieldCommitment is a call's 32-byte result commitment.
	FieldCommitment = 2
)

// codes maps the sentinels to their ABI codes, in the order Code checks them.
var codes = []struct {
	err  error
	code int32
}{
	{ErrBadArgument, CodeBadArgument},
	{ErrNotFound, CodeNotFound},
	{ErrDenied, CodeDenied},
	{ErrDepth, CodeDepth},
	{ErrTimeout, CodeTimeout},
	{ErrBufferTooSmall, CodeBufferTooSmall},
	{ErrUnavailable, CodeUnavailable},
	{ErrLimit, CodeLimit},
	{ErrRemote, CodeRemote},
	{context.DeadlineExceeded, CodeTimeout},
}

// Code returns the ABI code of err: the code of the first sentinel it wraps, CodeTimeout
// for a deadline, CodeRemote for anything else; 0 for nil.
func Code(err error) int32 {
	if err == nil {
		return 0
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return CodeRemote
}

// CodeName returns the short name of an ABI code ("denied", ...), "" for an unknown one.
func CodeName(code int32) string {
	switch code {
	case CodeBadArgument:
		return "bad_argument"
	case CodeNotFound:
		return "not_found"
	case CodeDenied:
		return "denied"
	case CodeDepth:
		return "depth_limit"
	case CodeRemote:
		return "remote_error"
	case CodeTimeout:
		return "timeout"
	case CodeBufferTooSmall:
		return "buffer_too_small"
	case CodeUnavailable:
		return "unavailable"
	case CodeLimit:
		return "limit"
	}
	return ""
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// functions is the ABI: name, parameters, results, implementation.
func (m *Module) functions() []hostFunc {
	return []hostFunc{
		{name: "search", names: []string{"query_ptr", "query_len", "limit"},
			params: []api.ValueType{i32, i32, i32}, results: []api.ValueType{i32}, fn: m.search},
		{name: "call", names: []string{"target_ptr", "target_len", "input_ptr", "input_len", "max_price", "timeout_ms"},
			params: []api.ValueType{i32, i32, i32, i32, i64, i32}, results: []api.ValueType{i32}, fn: m.call},
		{name: "call_best", names: []string{"query_ptr", "query_len", "input_ptr", "input_len", "max_price", "timeout_ms"},
			params: []api.ValueType{i32, i32, i32, i32, i64, i32}, results: []api.ValueType{i32}, fn: m.callBest},
		{name: "result_len", names: []string{"handle", "field"},
			params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}, fn: m.resultLen},
		{name: "result_read", names: []string{"handle", "field", "buf_ptr", "buf_len"},
			params: []api.ValueType{i32, i32, i32, i32}, results: []api.ValueType{i32}, fn: m.resultRead},
		{name: "exit_code", names: []string{"handle"},
			params: []api.ValueType{i32}, results: []api.ValueType{i64}, fn: m.exitCode},
		{name: "verified", names: []string{"handle"},
			params: []api.ValueType{i32}, results: []api.ValueType{i32}, fn: m.verified},
		{name: "close", names: []string{"handle"},
			params: []api.ValueType{i32}, results: []api.ValueType{i32}, fn: m.closeHandle},
		{name: "error_len", params: nil, results: []api.ValueType{i32}, fn: m.errorLen},
		{name: "error_read", names: []string{"buf_ptr", "buf_len"},
			params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}, fn: m.errorRead},
		{name: "budget", params: nil, results: []api.ValueType{i64}, fn: m.budget},
		{name: "depth", params: nil, results: []api.ValueType{i32}, fn: m.depth},
	}
}
