package loadtest

import (
	"context"
	"errors"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
)

// worker runs one kind of operation in a loop, as one client with its own
// HTTP transport and session, and keeps what it saw.
type worker struct {
	kind Kind
	id   int
	tr   *http.Transport
	op   func(ctx context.Context, seq int) error
	seq  int

	latencies []time.Duration // of the operations that succeeded
	shed      []time.Duration // of the 503 answers
	errors    map[string]int  // failed operations by class
}

// workers makes cfg.Clients workers of each kind, spread over the nodes.
func (t *target) workers(_ context.Context, cfg Config) ([]*worker, error) {
	var ws []*worker
	for _, k := range cfg.Kinds {
		for i := range cfg.Clients {
			w, err := t.worker(k, i)
			if err != nil {
				return nil, err
			}
			ws = append(ws, w)
		}
	}
	return ws, nil
}

func (t *target) worker(k Kind, i int) (*worker, error) {
	w := &worker{kind: k, id: i, errors: map[string]int{},
		tr: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}
	n := i % len(t.nodes)
	newClient := func(node int, pay bool) (*client.Client, error) {
		var payer *client.Payer
		if pay {
			payer = &client.Payer{Key: t.payer, MaxPrice: big.NewInt(1_000_000)}
		}
		return client.New(client.Config{NodeURL: t.nodes[node].url, PeerID: t.nodes[node].peerID, Policy: attest.DevPolicy(),
			Verifiers: attest.Verifiers{attest.PlatformSim: sim.Verifier{}}, Payer: payer,
			HTTPClient: &http.Client{Transport: w.tr, Timeout: opTimeout}})
	}
	switch k {
	case Exec:
		c, err := newClient(n, false)
		if err != nil {
			return nil, err
		}
		w.op = func(ctx context.Context, seq int) error {
			a := args(i, seq)
			in := client.ExecInput{Agent: t.freeAgent, Args: a}
			if t.freeAgent == "" {
				in = client.ExecInput{Wasm: wasmtest.EchoArgs, Args: a}
			}
			res, err := c.Exec(ctx, in)
			return echoed(a, res, err)
		}
	case Paid:
		node := n
		if t.paidAgent != "" {
			hosts := t.hosts(t.paidAgent)
			node = hosts[i%len(hosts)]
		}
		c, err := newClient(node, true)
		if err != nil {
			return nil, err
		}
		w.op = func(ctx context.Context, seq int) error {
			a := args(i, seq)
			if t.paidAgent != "" {
				res, err := c.Exec(ctx, client.ExecInput{Agent: t.paidAgent, Args: a})
				return paid(res, err)
			}
			res, err := c.Exec(ctx, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: a})
			if err := echoed(a, res, err); err != nil {
				return err
			}
			return paid(res, nil)
		}
	case Search:
		c, err := newClient(n, false)
		if err != nil {
			return nil, err
		}
		w.op = func(ctx context.Context, _ int) error {
			res, err := c.Search(ctx, api.SearchRequest{Description: t.query, Limit: 5})
			if err != nil {
				return err
			}
			if len(res.Agents) == 0 {
				return errNotFound
			}
			return nil
		}
	case Call:
		// A host of the priced agent, called through another node.
		hosts := t.hosts(t.paidAgent)
		h := hosts[i%len(hosts)]
		caller := (h + 1 + i%(len(t.nodes)-1)) % len(t.nodes)
		c, err := newClient(caller, false)
		if err != nil {
			return nil, err
		}
		callee := t.nodes[h]
		w.op = func(ctx context.Context, seq int) error {
			rc, err := c.CallAgent(ctx, callee.peerID, t.paidAgent, api.CallRequest{Args: args(i, seq)})
			if err != nil {
				return err
			}
			if rc.Payment == nil || rc.Payment.Transaction == "" {
				return errUnpaid
			}
			return nil
		}
	}
	return w, nil
}

// Classes of a failed operation that are not the node's answer.
var (
	errNotFound = errors.New("search found nothing")
	errUnpaid   = errors.New("paid operation without a settled payment")
	errOutput   = errors.New("wrong output")
)

func args(worker, seq int) []string {
	return []string{"w" + strconv.Itoa(worker), strconv.Itoa(seq)}
}

// echoed checks an echo result: the arguments back, space-separated, in
// a result the client verified.
func echoed(a []string, res *client.Result, err error) error {
	if err != nil {
		return err
	}
	if string(res.Output) != strings.Join(a, " ")+"\n" {
		return errOutput
	}
	return nil
}

// paid checks that a result carries its settled payment.
func paid(res *client.Result, err error) error {
	if err != nil {
		return err
	}
	if res.Payment == nil || res.Payment.Transaction == "" {
		return errUnpaid
	}
	return nil
}

// warm runs the worker's operation until it succeeds once (at most five
// tries): sessions, compiled modules, connections and payment terms are
// then in place before the before measurement.
func (w *worker) warm(ctx context.Context) error {
	var err error
	for range 5 {
		if err = w.once(ctx); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

func (w *worker) once(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	w.seq++
	return w.op(ctx, w.seq)
}

// run loops until the deadline, timing each operation.
func (w *worker) run(ctx context.Context, deadline time.Time) {
	for time.Now().Before(deadline) && ctx.Err() == nil {
		start := time.Now()
		err := w.once(ctx)
		d := time.Since(start)
		if err == nil {
			w.latencies = append(w.latencies, d)
			continue
		}
		w.errors[classify(err)]++
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusServiceUnavailable {
			w.shed = append(w.shed, d)
			// Shed: honour a short pause, as a client would (the node
			// asks for Retry-After seconds; a load client retries
			// sooner to keep the pressure on).
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// closeIdle drops the worker's idle connections, so that what remains
// after the load is the node's own.
func (w *worker) closeIdle() { w.tr.CloseIdleConnections() }

// Error classes of a report.
const (
	ClassTimeout   = "timeout"
	ClassTransport = "transport"
	ClassBusy      = "503 busy"
)

// classify names an operation's failure: "<status> <code>" for the node's
// answers, timeout, transport, or the client's own check.
func classify(err error) string {
	var apiErr *client.APIError
	var payErr *client.PaymentError
	var netErr net.Error
	switch {
	case errors.As(err, &payErr):
		if payErr.Settlement != nil {
			return "402 settlement " + payErr.Settlement.ErrorReason
		}
		if payErr.Required != nil && payErr.Required.Error != "" {
			return "402 " + payErr.Required.Error
		}
		return "402 payment"
	case errors.As(err, &apiErr):
		return strconv.Itoa(apiErr.Status) + " " + apiErr.Code
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return ClassTimeout
	case errors.Is(err, errNotFound), errors.Is(err, errUnpaid), errors.Is(err, errOutput):
		return err.Error()
	case errors.Is(err, client.ErrTransport), errors.As(err, &netErr):
		return ClassTransport
	}
	s := err.Error()
	if i := strings.IndexByte(s, ':'); i > 0 {
		s = s[:i]
	}
	return "client: " + s
}
