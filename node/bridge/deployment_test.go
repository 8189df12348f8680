package bridge_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/enclavetest"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/bridge"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
)

// A call of a deployed agent runs on the terms of the deployment it
// names, read once: its price reaches the payment side with the same
// module the enclave resolved. When the agent was redeployed (another
// module) or withdrawn between the enclave's opening of the request and
// that read, the request is refused before anything is charged or run,
// rather than running one version on another version's terms.
func TestAgentCallRunsOnOneDeployment(t *testing.T) {
	ctx := context.Background()
	echo := &resolver{}
	enc, exec := enclavetest.New(t, echo)
	echo.exec = exec
	agents := &fakeAgents{}
	pay := &recordingPayments{}
	srv, err := bridge.New(bridge.Config{Enclave: enc, Registry: prometheus.NewRegistry(), Agents: agents, Payments: pay,
		NodeInfo: func() api.NodeInfo { return api.NodeInfo{} }})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	c := nodetest.Client(t, ts.URL)
	call := client.ExecInput{Agent: "echo", Args: []string{"hi"}}

	deployed := bridge.Deployment{ModuleSHA256: sha256.Sum256(wasmtest.EchoArgs), Price: 123, Fuel: 1_000_000}
	agents.set(&deployed)
	res, err := c.Exec(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Output) != "hi\n" {
		t.Fatalf("output %q", res.Output)
	}
	if got := pay.last(); got == nil || *got != deployed {
		t.Fatalf("the payment side was given %+v, want the deployment %+v", got, deployed)
	}

	// The run is bound by the same deployment: a fuel budget of 1 stops it.
	agents.set(&bridge.Deployment{ModuleSHA256: deployed.ModuleSHA256, Price: 123, Fuel: 1})
	var apiErr *client.APIError
	if _, err := c.Exec(ctx, call); !errors.As(err, &apiErr) || apiErr.Code != api.CodeOutOfFuel {
		t.Fatalf("a run on a deployment with fuel 1: %v, want out_of_fuel", err)
	}

	for _, tc := range []struct {
		name   string
		d      *bridge.Deployment
		status int
		code   string
	}{
		{"redeployed", &bridge.Deployment{ModuleSHA256: sha256.Sum256(wasmtest.Hello), Price: 999}, http.StatusServiceUnavailable, api.CodeBusy},
		{"withdrawn", nil, http.StatusNotFound, api.CodeUnknownAgent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agents.set(tc.d)
			charges := pay.count()
			_, err := c.Exec(ctx, call)
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tc.status || apiErr.Code != tc.code {
				t.Fatalf("got %v, want %d %s", err, tc.status, tc.code)
			}
			if tc.status == http.StatusServiceUnavailable && apiErr.Header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if pay.count() != charges {
				t.Fatal("the request reached the payment side")
			}
		})
	}
}

// resolver resolves every agent name to the echo module.
type resolver struct{ exec *wasm.Executor }

func (r *resolver) ResolveAgent(ctx context.Context, _ string) (*wasm.Module, error) {
	return r.exec.Compile(ctx, wasmtest.EchoArgs)
}

// fakeAgents answers Deployment with what the test set (nil: none).
type fakeAgents struct {
	mu sync.Mutex
	d  *bridge.Deployment
}

func (f *fakeAgents) set(d *bridge.Deployment) { f.mu.Lock(); f.d = d; f.mu.Unlock() }

func (f *fakeAgents) Deployment(string) (bridge.Deployment, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.d == nil {
		return bridge.Deployment{}, false
	}
	return *f.d, true
}

func (f *fakeAgents) List() []api.Agent { return nil }
func (f *fakeAgents) Deploy(context.Context, string) (api.Agent, bool, error) {
	return api.Agent{}, false, errors.New("not here")
}
func (f *fakeAgents) Upload(context.Context, []byte, []byte) (api.Agent, bool, error) {
	return api.Agent{}, false, errors.New("not here")
}
func (f *fakeAgents) Withdraw(context.Context, string) (api.Agent, bool, error) {
	return api.Agent{}, false, errors.New("not here")
}

// recordingPayments charges nothing and records the deployments it was
// asked to charge for.
type recordingPayments struct {
	mu     sync.Mutex
	agents []*bridge.Deployment
}

func (p *recordingPayments) Charge(_ context.Context, _ bridge.Call, _ *enclave.Job, agent *bridge.Deployment) (bridge.Charge, error) {
	p.mu.Lock()
	p.agents = append(p.agents, agent)
	p.mu.Unlock()
	return noCharge{}, nil
}

func (p *recordingPayments) count() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.agents) }

func (p *recordingPayments) last() *bridge.Deployment {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.agents) == 0 {
		return nil
	}
	return p.agents[len(p.agents)-1]
}

type noCharge struct{}

func (noCharge) Ref() enclave.PaymentRef                                   { return enclave.PaymentRef{} }
func (noCharge) Settle(context.Context) (*api.Payment, http.Header, error) { return nil, nil, nil }
func (noCharge) Abort(context.Context, bool) (http.Header, error)          { return nil, nil }
