// Package enclavetest builds real enclaves for tests: a fresh identity,
// the simulated TEE and an executor of their own.
package enclavetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/enclave/wasm"
)

// New returns an enclave on the simulated TEE (zero measurement) with a
// fresh identity and a default executor, which it also returns and closes
// when the test ends; agents resolves agent names (nil: requests must
// carry their module).
func New(tb testing.TB, agents enclave.AgentResolver) (*enclave.Enclave, *wasm.Executor) {
	tb.Helper()
	ctx := context.Background()
	exec, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = exec.Close(ctx) })
	id, err := enclave.GenerateIdentity()
	if err != nil {
		tb.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	enc, err := enclave.New(enclave.Config{Identity: id, Attester: sim.NewAttester(key, [sim.MeasurementSize]byte{}), Executor: exec, Agents: agents})
	if err != nil {
		tb.Fatal(err)
	}
	return enc, exec
}
