package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/ledger"
	"github.com/agentnet/agentnode/x402/x402test"
)

// The child process of TestKilledAtEveryStep reads its orders from these.
const (
	crashStageEnv = "AGENTNODE_TEST_CRASH_STAGE"
	crashDirEnv   = "AGENTNODE_TEST_CRASH_DIR"
	crashRPCEnv   = "AGENTNODE_TEST_CRASH_RPC"
	crashGasEnv   = "AGENTNODE_TEST_CRASH_GAS"
	crashAssetEnv = "AGENTNODE_TEST_CRASH_ASSET"
	crashPayToEnv = "AGENTNODE_TEST_CRASH_PAYTO"
)

// TestKilledNodeProcess is the node that TestKilledAtEveryStep kills: run
// on its own it skips. It starts a paying node on the parent's chain and
// data dir, prints its bridge URL, and SIGKILLs itself when a paid request
// reaches the stage it was given.
func TestKilledNodeProcess(t *testing.T) {
	stage := os.Getenv(crashStageEnv)
	if stage == "" {
		t.Skip("the child process of TestKilledAtEveryStep")
	}
	gas, err := crypto.HexToECDSA(os.Getenv(crashGasEnv))
	if err != nil {
		t.Fatal(err)
	}
	off := false
	cfg := node.Config{Listening: "127.0.0.1:0", DataDir: os.Getenv(crashDirEnv), TEE: "sim", LogLevel: "error", Price: testPrice, P2P: &off}
	cfg.RPCURL, cfg.GasKey, cfg.Asset, cfg.PayTo = os.Getenv(crashRPCEnv), gas, os.Getenv(crashAssetEnv), os.Getenv(crashPayToEnv)
	node.SetPaymentFault(&cfg, func(s string) error {
		if s == stage {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		return nil
	})
	n, err := node.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("BRIDGE " + n.BridgeURL() + "\n")
	time.Sleep(2 * time.Minute) // the parent kills this process long before
	t.Fatal("never killed")
}

// TestKilledAtEveryStep kills a real node process (SIGKILL, no cleanup of
// any kind) at each step of a paid request — after the payment is
// reserved and before the job runs, after the job ran and before its
// record and settlement start, once the ledger has the execution on disk
// (the settlement going out at the same time), after the chain settled
// and before the ledger knew — then restarts a node on the same data dir,
// twice, and presents the same payment again after the first restart.
// Each time the killed node's caller gets no result. A payment cut off
// before anything was recorded or sent charged nothing and left nothing
// on disk: presented again, it buys one execution and is charged once.
// Work whose execution was recorded is settled exactly once, whether or
// not the chain already had it, and its payment is refused when presented
// again.
//
// What was lost: nothing. No payment was charged for work not done, none
// was charged twice, none that was owed went unsettled.
func TestKilledAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	env := x402test.NewEnv(t, chain.Config{})
	for _, tc := range []struct {
		stage string
		// again: the same payment presented after the restart buys an
		// execution (its first use recorded nothing).
		again bool
	}{
		{"reserved", true},
		{"ran", true},
		{"recorded", false},
		{"settled", false},
	} {
		t.Run(tc.stage, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKilledNodeProcess$", "-test.v")
			cmd.Env = append(os.Environ(), crashStageEnv+"="+tc.stage, crashDirEnv+"="+dir, crashRPCEnv+"="+env.Chain.RPCURL(),
				crashGasEnv+"="+hex.EncodeToString(crypto.FromECDSA(env.GasKey)), crashAssetEnv+"="+env.Token.Hex(), crashPayToEnv+"="+env.PayTo.Hex())
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			url := ""
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if u, ok := strings.CutPrefix(sc.Text(), "BRIDGE "); ok {
					url = u
					break
				}
			}
			if url == "" {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("the node process did not start: %s", stderr.String())
			}
			go func() { _, _ = bufio.NewReader(out).WriteTo(&bytes.Buffer{}) }()

			c := payingClient(t, url, nil, 0)
			req := required(t, url, c)
			p, err := evm.Sign(env.PayerKey, req)
			if err != nil {
				t.Fatal(err)
			}
			header, _ := x402.EncodePaymentPayload(p)
			before := env.Balance(t, env.PayTo)
			body, _ := json.Marshal(rawRequest(t, c, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"killed"}}))
			hreq, _ := http.NewRequest(http.MethodPost, url+"/x402_execute/verifiable/wasm", bytes.NewReader(body))
			hreq.Header.Set("Payment-Signature", header)
			if resp, err := http.DefaultClient.Do(hreq); err == nil {
				resp.Body.Close()
				t.Fatalf("the killed node answered %d", resp.StatusCode)
			}
			werr := cmd.Wait()
			if ee, ok := werr.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the node process ended with %v, not SIGKILL:\n%s", werr, stderr.String())
			}

			auth, err := evm.ParseAuthorization(mustExact(t, p).Authorization)
			if err != nil {
				t.Fatal(err)
			}
			key := ledger.Key{Network: string(req.Network), Asset: req.Asset, Payer: env.Payer.Hex(), Nonce: auth.Nonce}
			for i := range 2 { // restart, and restart again: recovery acts once
				n := nodetest.StartConfig(t, paidConfig(env, dir, testPrice))
				if i == 0 {
					resp, rbody := post(t, n.BridgeURL(), http.Header{"Payment-Signature": {header}},
						rawRequest(t, payingClient(t, n.BridgeURL(), nil, 0), client.ExecInput{Wasm: wasmtest.EchoArgs}))
					var res api.ExecResponse
					accepted := resp.StatusCode == http.StatusOK || json.Unmarshal(rbody, &res) == nil && res.EncryptedResult != ""
					if accepted != tc.again {
						t.Fatalf("the payment presented again after the crash: %d %s (want accepted: %v)", resp.StatusCode, rbody, tc.again)
					}
				}
				if err := n.Close(); err != nil {
					t.Fatal(err)
				}
				if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before).Int64(); d != testPrice {
					t.Fatalf("restart %d: pay_to gained %d, want %d, once", i+1, d, testPrice)
				}
				if e := ledgerEntry(t, dir, key); e.State != ledger.StateSettled {
					t.Fatalf("restart %d: the entry is %s, want settled", i+1, e.State)
				}
			}
		})
	}
}
