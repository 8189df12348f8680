package meter_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
)

// TestNoStarvation spins a metered guest with unlimited fuel under GOMAXPROCS=1 and
// checks an HTTP health check on loopback keeps answering meanwhile: the guest yields
// the processor at every yield point, which WithCloseOnContextDone-free wazero would
// otherwise never do.
func TestNoStarvation(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	r := newRuntime(t, compiler, false)
	mod, g := instance(t, r, mustInstrument(t, readTestdata(t, "infinite.wasm")), true)
	if err := g.Set(meter.MaxFuel); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started, done := make(chan struct{}), make(chan error, 1)
	go func() {
		close(started)
		_, err := mod.ExportedFunction("_start").Call(ctx)
		done <- err
	}()
	<-started
	time.Sleep(20 * time.Millisecond) // let the guest spin

	client := &http.Client{Timeout: 2 * time.Second}
	var worst time.Duration
	for i := 0; i < 10; i++ {
		start := time.Now()
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatalf("health check %d while the guest spins: %v", i, err)
		}
		resp.Body.Close()
		worst = max(worst, time.Since(start))
	}
	select {
	case err := <-done:
		t.Fatalf("the guest stopped early: %v", err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("guest: %v, want Canceled", err)
	}
	if worst > 250*time.Millisecond {
		t.Errorf("slowest health check took %v while a guest spun", worst)
	}
	t.Logf("slowest of 10 health checks during the spin: %v", worst)
}
