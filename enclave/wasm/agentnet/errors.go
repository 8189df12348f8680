package agentnet

import "errors"

// Sentinel errors. A [Network] wraps them (errors.Is) to say why a search or call failed;
// the host module turns each into its ABI code (see [Code]), and the error's message
// becomes the guest's last error (error_read).
var (
	// ErrBadArgument is returned when a guest's argument is unusable: a pointer or length
	// outside its memory, a target that is not "peer/name", a negative price or timeout,
	// an unknown handle or field, a query or input over its cap. Code -1.
	ErrBadArgument = errors.New("bad argument")

	// ErrNotFound is returned when no agent answers: the peer/name has no card that
	// verifies under the node's peer policy, the callee withdrew it, or a search for the
	// best match found nothing. Code -2.
	ErrNotFound = errors.New("agent not found")

	// ErrDenied is returned when the call would pay more than it may: its price is over
	// the guest's max_price or the run's remaining budget, the node's payer policy refused
	// the payment, or the node has no payer. No payment is made. Code -3.
	ErrDenied = errors.New("payment denied")

	// ErrDepth is returned when a call would nest deeper than the node's depth limit
	// (Config.MaxDepth); no request leaves the node. Code -4.
	ErrDepth = errors.New("call depth limit reached")

	// ErrRemote is returned when the callee's node failed the call: unreachable, a refusal,
	// a result that does not verify, a trap of the callee. Code -5.
	ErrRemote = errors.New("remote call failed")

	// ErrTimeout is returned when the call's deadline (timeout_ms, or the caller's own
	// run deadline) passed, or the callee ran past its node's time limit. Code -6.
	ErrTimeout = errors.New("call timed out")

	// ErrBufferTooSmall is returned (to guests only, as code -7) when a read's buffer is
	// shorter than the data; result_len or error_len gives the size needed.
	ErrBufferTooSmall = errors.New("buffer too small")

	// ErrUnavailable is returned when this run may not make agent-to-agent calls: the
	// module is not one of the node's deployed agents (a module sent with a request), or
	// the node is not on the p2p network. Code -8.
	ErrUnavailable = errors.New("agent-to-agent calls unavailable")

	// ErrLimit is returned when a run reached one of its limits: calls and searches per
	// run, open handles, or result bytes held. Code -9.
	ErrLimit = errors.New("per-run limit reached")
)
