package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
)

// BenchmarkBridgeExec is the full encrypted flow over loopback HTTP with a
// warm session: the client seals the request, the node opens it, runs the
// module, commits, signs and seals the result, the client opens it and
// verifies commitment and signature.
func BenchmarkBridgeExec(b *testing.B) {
	n := nodetest.Start(b, nil)
	c := nodetest.Client(b, n.BridgeURL())
	in := client.ExecInput{Wasm: wasmtest.Hello}
	if _, err := c.Exec(context.Background(), in); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := c.Exec(context.Background(), in)
			if err != nil || len(res.Output) != 6 {
				b.Error(err)
				return
			}
		}
	})
	reportRates(b, start, cpu)
}

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRates reports executions per second and the CPU time per
// execution, client and node together (both run in this process): the
// CPU ratio of the two benchmarks does not move with the load other
// processes put on the machine, which the wall-clock ratio does.
func reportRates(b *testing.B, start time.Time, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "execs/s")
	b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// plainRequest is the baseline's body: the same module and arguments in
// clear, no session, no sealing, no commitment, no signature.
type plainRequest struct {
	Wasm []byte   `json:"wasm"`
	Args []string `json:"args"`
}

type plainResponse struct {
	Output   []byte `json:"output"`
	ExitCode uint32 `json:"exit_code"`
}

// BenchmarkBridgeExecPlain is BenchmarkBridgeExec's baseline: the same
// module through the same executor and HTTP stack, from plaintext JSON.
func BenchmarkBridgeExecPlain(b *testing.B) {
	ctx := context.Background()
	exec, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer exec.Close(ctx)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req plainRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m, err := exec.Compile(r.Context(), req.Wasm)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		res, err := exec.Run(r.Context(), m, wasm.Input{Args: req.Args})
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(plainResponse{Output: res.Stdout, ExitCode: res.ExitCode})
	}))
	defer srv.Close()
	body, _ := json.Marshal(plainRequest{Wasm: wasmtest.Hello})
	hc := &http.Client{Timeout: 60 * time.Second}
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := hc.Post(srv.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			var out plainResponse
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err != nil || len(out.Output) != 6 {
				b.Error(err)
				return
			}
		}
	})
	reportRates(b, start, cpu)
}
