package evm_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/x402test"
)

// A chain and a settler that settled leave no goroutines behind after
// Close.
func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		env := x402test.NewEnv(t, chain.Config{})
		s := newSettler(t, env, true)
		req := env.Requirements("1")
		p, _ := evm.Sign(env.PayerKey, req)
		if resp, err := s.Settle(context.Background(), p, req); err != nil || !resp.Success {
			t.Fatalf("settle: %+v %v", resp, err)
		}
		_ = s.Close()
		_ = env.Chain.Close()
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after:\n%s", base, n, buf[:runtime.Stack(buf, true)])
	}
}
