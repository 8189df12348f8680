package bridge

import (
	"context"
	"net/http"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/node/api"
)

// Payments charges for executions: the slot between "decrypt" and
// "execute" of DESIGN.md 2.2. A nil Payments makes every execution free.
type Payments interface {
	// Charge decides the terms of a decrypted job and collects its payment
	// from the request's headers. With no payment attached, or one that does
	// not verify, it returns an *Error with status 402 carrying the
	// requirements (PAYMENT-REQUIRED); a request that changed no state. With
	// a valid payment it reserves it (a payment buys one execution, once)
	// and returns the charge. A free job returns a zero-value-safe charge.
	// The call's Header carries the payment, Resource names what is paid
	// for and Peer who pays (a network peer, or "" for a local user);
	// agent is the deployment a call of a deployed agent runs on (nil for
	// a module sent with the request), whose Price it is charged.
	Charge(ctx context.Context, call Call, job *enclave.Job, agent *Deployment) (Charge, error)
}

// Charge is a reserved payment for one job.
type Charge interface {
	// Ref is the payment the commitment binds.
	Ref() enclave.PaymentRef
	// Settle collects the reserved payment after the job ran. Only a
	// settled result is released to the client; a settlement that fails
	// returns an error (402) and the result is withheld. The header holds
	// PAYMENT-RESPONSE.
	Settle(ctx context.Context) (*api.Payment, http.Header, error)
	// Abort ends a charge whose job did not produce a result; ran tells
	// whether the job did any work (a trap after running) or none (refused
	// before it started), which decides between settling and releasing.
	Abort(ctx context.Context, ran bool) (http.Header, error)
}

// free is the charge of an execution without a price.
type free struct{}

func (free) Ref() enclave.PaymentRef                                   { return enclave.PaymentRef{} }
func (free) Settle(context.Context) (*api.Payment, http.Header, error) { return nil, nil, nil }
func (free) Abort(context.Context, bool) (http.Header, error)          { return nil, nil }

func (s *Server) charge(ctx context.Context, call Call, job *enclave.Job, agent *Deployment) (Charge, error) {
	if s.cfg.Payments == nil {
		return free{}, nil
	}
	return s.cfg.Payments.Charge(ctx, call, job, agent)
}

// facilitatorRoutes mounts the node's x402 facilitator under /facilitator
// (the handler caps its own bodies at x402.MaxBodySize).
func (s *Server) facilitatorRoutes() {
	fh := http.StripPrefix("/facilitator", s.cfg.Facilitator)
	serve := func(w http.ResponseWriter, r *http.Request) error {
		fh.ServeHTTP(w, r)
		return nil
	}
	s.handle("POST /facilitator/verify", serve)
	s.handle("POST /facilitator/settle", serve)
	s.handle("GET /facilitator/supported", serve)
}
