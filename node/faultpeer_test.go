package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	bolt "go.etcd.io/bbolt"

	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/nettest"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/ledger"
	"github.com/agentnet/agentnode/x402/x402test"
)

const vanishPrice = 7000

// sellerConfig is the config of the seller of TestPeerVanishesMidCall, in
// its own process and after its restart: a priced agent, payments settled
// on the chain at rpcURL.
func sellerConfig(dir, rpcURL string, gas, asset, payTo string) (node.Config, error) {
	key, err := crypto.HexToECDSA(gas)
	if err != nil {
		return node.Config{}, err
	}
	cfg := node.Config{Listening: "127.0.0.1:0", DataDir: dir, AppPath: filepath.Join(dir, "agents"), TEE: "sim", LogLevel: "error",
		P2PTTL: "testnet", TTL: nettest.TTL(), P2PReadTimeout: node.Duration{Duration: 2 * time.Second}}
	cfg.RPCURL, cfg.GasKey, cfg.Asset, cfg.PayTo = rpcURL, key, asset, payTo
	return cfg, nil
}

// TestVanishingSellerProcess is the seller TestPeerVanishesMidCall kills:
// run on its own it skips.
func TestVanishingSellerProcess(t *testing.T) {
	stage := os.Getenv(crashStageEnv)
	if stage == "" || os.Getenv(crashPayToEnv) == "" {
		t.Skip("the child process of TestPeerVanishesMidCall")
	}
	dir := os.Getenv(crashDirEnv)
	cfg, err := sellerConfig(dir, os.Getenv(crashRPCEnv), os.Getenv(crashGasEnv), os.Getenv(crashAssetEnv), os.Getenv(crashPayToEnv))
	if err != nil {
		t.Fatal(err)
	}
	writePricedAgent(t, cfg.AppPath, "oracle", "paid hello", vanishPrice)
	node.SetPaymentFault(&cfg, func(s string) error {
		if s == stage {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
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
	os.Stdout.WriteString("P2P " + n.P2PAddrs()[0] + "\n")
	time.Sleep(2 * time.Minute)
	t.Fatal("never killed")
}

// TestPeerVanishesMidCall: a node pays for a remote call of an agent on
// another node, which dies (SIGKILL) with the call in flight — after it
// reserved the payment, or after it ran the agent and recorded that. The
// caller gets a clear peer_unreachable error at once, not a hang, and
// keeps serving; the
// seller, restarted on its data dir, ends with a consistent ledger: a
// reservation (held in memory until the work is recorded) left nothing on
// disk and is charged nothing; recorded work is settled exactly once (the
// caller's signed payment covers it, though the result died with the
// process).
//
// What was lost: nothing the ledger and the chain disagree on; no payment
// is taken twice or for work that did not run.
func TestPeerVanishesMidCall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	env := x402test.NewEnv(t, chain.Config{})
	keyFile := env.PayerKeyFile(t)
	gas := hex.EncodeToString(crypto.FromECDSA(env.GasKey))
	for _, tc := range []struct {
		stage   string
		charged int64
		state   ledger.State
	}{
		{"reserved", 0, 0}, // no entry
		{"recorded", vanishPrice, ledger.StateSettled},
	} {
		t.Run(tc.stage, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestVanishingSellerProcess$", "-test.v")
			cmd.Env = append(os.Environ(), crashStageEnv+"="+tc.stage, crashDirEnv+"="+dir, crashRPCEnv+"="+env.Chain.RPCURL(),
				crashGasEnv+"="+gas, crashAssetEnv+"="+env.Token.Hex(), crashPayToEnv+"="+env.PayTo.Hex())
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			addr := ""
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if a, ok := strings.CutPrefix(sc.Text(), "P2P "); ok {
					addr = a
					break
				}
			}
			if addr == "" {
				t.Fatalf("the seller did not start: %s", stderr.String())
			}
			go func() { _, _ = bufio.NewReader(out).WriteTo(&bytes.Buffer{}) }()
			seller := addr[strings.LastIndex(addr, "/")+1:]

			buyer := nettest.StartNode(t, node.Config{Listening: "127.0.0.1:0", DataDir: t.TempDir(), TEE: "sim", LogLevel: "error",
				P2PTTL: "testnet", TTL: nettest.TTL(), Bootstrap: []string{addr}, PaymentConfig: node.PaymentConfig{PayerKeyFile: keyFile, MaxPrice: 10000}})
			before := env.Balance(t, env.PayTo)
			var callErr error
			var took time.Duration
			if err := nettest.Eventually(30*time.Second, 200*time.Millisecond, func() error {
				start := time.Now()
				_, callErr = buyer.CallAgent(ctx, seller, "oracle", api.CallRequest{Args: []string{"world"}})
				took = time.Since(start)
				if callErr != nil && strings.Contains(callErr.Error(), "no agent oracle") {
					return callErr // the card is not found yet
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if callErr == nil {
				t.Fatal("the call succeeded though the seller died in it")
			}
			if !strings.Contains(callErr.Error(), seller) || took > 15*time.Second {
				t.Fatalf("call with the seller dying: %v after %s", callErr, took)
			}
			t.Logf("the caller got, after %s: %v", took.Round(time.Millisecond), callErr)
			if err := cmd.Wait(); err == nil {
				t.Fatal("the seller process was not killed")
			}
			if _, err := nettest.Client(t, buyer).OpenSession(ctx); err != nil {
				t.Fatalf("the buyer stopped serving: %v", err)
			}

			// What the dead seller's ledger holds: the one payment, executed,
			// or nothing if it died before recording the execution.
			left := unfinished(t, dir)
			if tc.state == 0 && len(left) != 0 || tc.state != 0 && (len(left) != 1 || left[0].State != ledger.StateExecuted) {
				t.Fatalf("the dead seller's ledger holds %+v", left)
			}
			// The seller comes back on its data dir: recovery.
			cfg, err := sellerConfig(dir, env.Chain.RPCURL(), gas, env.Token.Hex(), env.PayTo.Hex())
			if err != nil {
				t.Fatal(err)
			}
			off := false
			cfg.P2P = &off
			for i := range 2 {
				n := nodetest.StartConfig(t, cfg)
				if err := n.Close(); err != nil {
					t.Fatal(err)
				}
				if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before).Int64(); d != tc.charged {
					t.Fatalf("restart %d: pay_to gained %d, want %d", i+1, d, tc.charged)
				}
			}
			if tc.state != 0 {
				if e := ledgerEntry(t, dir, left[0].Key); e.State != tc.state {
					t.Fatalf("after restart the seller's entry is %s, want %s", e.State, tc.state)
				}
			}
			if len(unfinished(t, dir)) != 0 {
				t.Fatal("entries left unfinished after recovery")
			}
		})
	}
}

// unfinished lists the reserved and executed entries of a stopped node's
// ledger.
func unfinished(t *testing.T, dataDir string) []ledger.Entry {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dataDir, "node.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := ledger.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Reserved(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return append(r, p...)
}
