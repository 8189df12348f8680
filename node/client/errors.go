package client

import "errors"

// Sentinel errors. Callers match them with errors.Is; messages wrap them
// with the detail.
var (
	// ErrWrongPeer is returned when a session is answered by another node
	// than Config.PeerID names.
	ErrWrongPeer = errors.New("session answered by another peer")
	// ErrWrongModule is returned when a result comes from another module
	// than ExecInput.Module names.
	ErrWrongModule = errors.New("result of another module")
	// ErrTransport is returned when a transport could not reach the node
	// or the node did not answer in protocol: a dial, stream or framing
	// failure, as opposed to a refusal (*APIError) or a failed
	// verification.
	ErrTransport = errors.New("node unreachable")
	// ErrNoPayer is returned (in a *PaymentError) when a node asks for
	// payment and the client has no Payer.
	ErrNoPayer = errors.New("no payer configured")
	// ErrCannotPay is returned (in a *PaymentError) when no requirement of
	// a node's 402 answer is one the payer can and may pay: an unknown
	// token, a price over the max price, a policy refusal.
	ErrCannotPay = errors.New("cannot pay the node's terms")
	// errNoURL is returned by the bridge routes of a client made with a
	// Transport but no NodeURL.
	errNoURL = errors.New("client has no node URL (it was made with a transport only)")
)
