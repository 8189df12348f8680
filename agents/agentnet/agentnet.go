// Package agentnet is the Go guest side of the agent-to-agent ABI (docs/abi.md): an agent
// built with GOOS=wasip1 GOARCH=wasm imports these functions from the host module
// "agentnet" to search the network for other agents, call one (paying it within a price
// limit, under the node's payer policy and the agent's budget) and read its verified
// result.
//
//	res, err := agentnet.CallBest("arxiv papers", []byte("attention"), 10000)
//	if err != nil {
//		// err is an *agentnet.Error: its Code says why (CodeDenied, CodeNotFound, ...)
//	}
//	os.Stdout.Write(res.Output)
//
// Calls block the agent until the callee answered; the agent's own deadline keeps
// counting. Only a node's deployed agents may call: elsewhere (a module sent with a
// request, or a native build of the agent for its tests) every function returns an
// *Error with CodeUnavailable.
//
// The package uses neither fmt nor encoding/json, to keep agents small: Search returns
// the host's JSON as bytes, and Result carries the receipt's JSON with its main fields
// already read out.
package agentnet

import (
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// ABI codes (docs/abi.md).
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

// Result fields.
const (
	fieldOutput     = 0
	fieldReceipt    = 1
	fieldCommitment = 2
)

// Error is a failed host call: its ABI code and the host's message.
type Error struct {
	Code    int32
	Message string
}

// Error returns "agentnet: <name> (<code>): <message>".
func (e *Error) Error() string {
	s := "agentnet: " + CodeName(e.Code) + " (" + strconv.Itoa(int(e.Code)) + ")"
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// CodeName names an ABI code: "denied" for -3, and so on.
func CodeName(code int32) string {
	switch code {
	case CodeBadArgument:
		return "bad argument"
	case CodeNotFound:
		return "not found"
	case CodeDenied:
		return "denied"
	case CodeDepth:
		return "depth limit"
	case CodeRemote:
		return "remote error"
	case CodeTimeout:
		return "timeout"
	case CodeBufferTooSmall:
		return "buffer too small"
	case CodeUnavailable:
		return "unavailable"
	case CodeLimit:
		return "limit"
	}
	return "error"
}

// fail builds the *Error of a negative code, with the host's last error message.
func fail(code int32) *Error {
	e := &Error{Code: code}
	if n := hostErrorLen(); n > 0 {
		buf := make([]byte, n)
		if m := hostErrorRead(ptr(buf), uint32(len(buf))); m > 0 {
			e.Message = string(buf[:m])
		}
	}
	return e
}

// Result is a verified result of a call.
type Result struct {
	// Output is the callee's stdout; ExitCode its exit status.
	Output   []byte
	ExitCode uint32
	// Verified is true when the node verified the callee's evidence, the result's
	// commitment and signature, and the module its card advertises.
	Verified bool
	// Commitment is the result commitment the callee's node signed.
	Commitment [32]byte
	// Peer and Agent name who answered; Paid is what the call paid (atomic units, a
	// decimal string) and Transaction the settlement's hash ("" when free).
	Peer, Agent, Paid, Transaction string
	// Receipt is the host's receipt JSON (docs/abi.md), with the fields above and more.
	Receipt []byte
}

// Search finds at most limit agents (0: the host's default, 5) whose cards match query,
// best first, and returns the host's JSON array of {peer, agent, description, price,
// platform, score}.
func Search(query string, limit int) ([]byte, error) {
	q := []byte(query)
	h := hostSearch(ptr(q), uint32(len(q)), int32(limit))
	if h < 0 {
		return nil, fail(h)
	}
	defer hostClose(h)
	return read(h, fieldOutput)
}

// Call runs the agent target ("peer/name") with input as its stdin, paying at most
// maxPrice (and never more than the run's remaining budget). timeout, when positive,
// bounds the call below the run's own deadline.
func Call(target string, input []byte, maxPrice uint64, timeout time.Duration) (*Result, error) {
	t := []byte(target)
	h := hostCall(ptr(t), uint32(len(t)), ptr(input), uint32(len(input)), price(maxPrice), millis(timeout))
	return result(h)
}

// CallBest runs the best-ranked agent matching query whose price is within maxPrice,
// with input as its stdin.
func CallBest(query string, input []byte, maxPrice uint64, timeout time.Duration) (*Result, error) {
	q := []byte(query)
	h := hostCallBest(ptr(q), uint32(len(q)), ptr(input), uint32(len(input)), price(maxPrice), millis(timeout))
	return result(h)
}

// Budget returns what the run may still pay its callees.
func Budget() (uint64, error) {
	b := hostBudget()
	if b < 0 {
		return 0, fail(int32(b))
	}
	return uint64(b), nil
}

// Depth returns the run's call depth: 0 when a user called the agent.
func Depth() (int, error) {
	d := hostDepth()
	if d < 0 {
		return 0, fail(d)
	}
	return int(d), nil
}

// Available reports whether this build talks to a host at all (a wasip1 build); a native
// build's functions all fail with CodeUnavailable.
func Available() bool { return available }

// result reads a call's handle into a Result and closes it.
func result(h int32) (*Result, error) {
	if h < 0 {
		return nil, fail(h)
	}
	defer hostClose(h)
	var r Result
	var err error
	if r.Output, err = read(h, fieldOutput); err != nil {
		return nil, err
	}
	if r.Receipt, err = read(h, fieldReceipt); err != nil {
		return nil, err
	}
	c, err := read(h, fieldCommitment)
	if err != nil {
		return nil, err
	}
	copy(r.Commitment[:], c)
	code := hostExitCode(h)
	if code < 0 {
		return nil, fail(int32(code))
	}
	r.ExitCode = uint32(code)
	r.Verified = hostVerified(h) == 1
	r.Peer = field(r.Receipt, "peer")
	r.Agent = field(r.Receipt, "agent")
	r.Paid = field(r.Receipt, "paid")
	r.Transaction = field(r.Receipt, "transaction")
	return &r, nil
}

// read returns one field of handle h: its length first, then its bytes.
func read(h int32, f int32) ([]byte, error) {
	n := hostResultLen(h, f)
	if n < 0 {
		return nil, fail(n)
	}
	buf := make([]byte, n)
	if n == 0 {
		return buf, nil
	}
	m := hostResultRead(h, f, ptr(buf), uint32(len(buf)))
	if m < 0 {
		return nil, fail(m)
	}
	return buf[:m], nil
}

// field returns the string value of key in the host's flat receipt JSON, whose values
// are plain strings without escapes, booleans and numbers; "" when absent.
func field(receipt []byte, key string) string {
	s := string(receipt)
	i := strings.Index(s, `"`+key+`":"`)
	if i < 0 {
		return ""
	}
	s = s[i+len(key)+4:]
	j := strings.IndexByte(s, '"')
	if j < 0 || strings.IndexByte(s[:j], '\\') >= 0 {
		return ""
	}
	return s[:j]
}

// ptr is the guest address of b's first byte (nil for an empty slice: the host reads
// nothing then).
func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func price(p uint64) int64 {
	if p > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(p)
}

func millis(d time.Duration) int32 {
	switch ms := d.Milliseconds(); {
	case d <= 0:
		return 0
	case ms == 0:
		return 1
	case ms > 1<<31-1:
		return 1<<31 - 1
	default:
		return int32(ms)
	}
}
