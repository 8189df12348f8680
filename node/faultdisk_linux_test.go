package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

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

const diskFullEnv = "AGENTNODE_TEST_DISK_FULL"

// TestLedgerDiskFull runs TestLedgerDiskFullOnTmpfs in a child process
// with a mount namespace of its own (and a user namespace, so that no
// privilege is needed where unprivileged user namespaces are allowed), in
// which it mounts a 4 MiB tmpfs for the node's data directory. Where the
// kernel allows neither, the test is skipped and says why.
func TestLedgerDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node process in its own mount namespace")
	}
	attrs := []*syscall.SysProcAttr{
		{Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}},
		{Cloneflags: syscall.CLONE_NEWNS}, // root without user namespaces
	}
	var out bytes.Buffer
	for i, attr := range attrs {
		out.Reset()
		cmd := exec.Command(os.Args[0], "-test.run=^TestLedgerDiskFullOnTmpfs$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), diskFullEnv+"=1")
		cmd.Stdout, cmd.Stderr, cmd.SysProcAttr = &out, &out, attr
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil && strings.Contains(out.String(), "--- PASS: TestLedgerDiskFullOnTmpfs"):
			t.Log(lastLines(out.String(), 12))
			return
		case err == nil && strings.Contains(out.String(), "--- SKIP"):
			if i == len(attrs)-1 {
				t.Skipf("no tmpfs can be mounted here: %s", lastLines(out.String(), 5))
			}
		case errors.As(err, &ee):
			t.Fatalf("disk-full scenario failed:\n%s", out.String())
		case i == len(attrs)-1:
			t.Skipf("no mount namespace can be made here (%v): the disk-full scenario needs one to mount its tmpfs", err)
		}
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// TestLedgerDiskFullOnTmpfs is the scenario TestLedgerDiskFull runs in a
// mount namespace: run on its own it skips. A paying node keeps its data
// directory (and so its bbolt ledger) on a 4 MiB tmpfs; the tmpfs is
// filled to the last byte while the node serves paid requests.
//
// Every request either returns a verified result whose payment settled on
// chain, or is refused with no result. The execution record and the
// settlement go out together, so a request whose record fails still gets
// its result when the chain took its payment (the ledger misses that
// payment; the log says so); for a second after such a failure new
// payments are refused before they run, charged nothing. When space
// returns the node takes payments again without a restart, and a
// restart's recovery leaves every ledger entry settled or released.
//
// What was lost: nothing. The funds that moved are exactly the price of
// the results that were returned.
func TestLedgerDiskFullOnTmpfs(t *testing.T) {
	if os.Getenv(diskFullEnv) == "" {
		t.Skip("the child process of TestLedgerDiskFull")
	}
	mnt := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		t.Skipf("make mounts private: %v", err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	defer func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) }()

	env := x402test.NewEnv(t, chain.Config{})
	dir := filepath.Join(mnt, "node")
	cfg := paidConfig(env, dir, testPrice)
	cfg.ExecutorPath = filepath.Join(t.TempDir(), "cache") // the compile cache is not what this tests
	n, err := node.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	url := n.BridgeURL()
	c := payingClient(t, url, nil, 0)
	req := required(t, url, c)
	before := env.Balance(t, env.PayTo)
	var keys []ledger.Key
	results, ledgerRefusals := 0, 0
	pay := func(arg string) int {
		t.Helper()
		p, err := evm.Sign(env.PayerKey, req)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := x402.EncodePaymentPayload(p)
		auth, _ := evm.ParseAuthorization(mustExact(t, p).Authorization)
		keys = append(keys, ledger.Key{Network: string(req.Network), Asset: req.Asset, Payer: env.Payer.Hex(), Nonce: auth.Nonce})
		resp, body := post(t, url, http.Header{"Payment-Signature": {h}}, rawRequest(t, c, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{arg}}))
		var res api.ExecResponse
		_ = json.Unmarshal(body, &res)
		switch {
		case resp.StatusCode == http.StatusOK && res.EncryptedResult != "" && res.Payment != nil:
			results++
		case resp.StatusCode == http.StatusOK:
			t.Fatalf("200 without a paid result: %s", body)
		case res.EncryptedResult != "":
			t.Fatalf("a refused request (%d) released a result", resp.StatusCode)
		default:
			var e api.Error
			_ = json.Unmarshal(body, &e)
			if strings.Contains(e.Error.Message, "ledger") {
				ledgerRefusals++
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
					t.Fatalf("a ledger refusal answered %d %s", resp.StatusCode, body)
				}
			} else if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusInternalServerError {
				t.Fatalf("unclean answer %d %s", resp.StatusCode, body)
			}
		}
		return resp.StatusCode
	}
	if code := pay("before"); code != http.StatusOK {
		t.Fatalf("with space: %d", code)
	}

	// Fill the tmpfs.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			break
		}
	}
	for len(chunk) > 1 { // and the last pages
		chunk = chunk[:len(chunk)/2]
		for {
			if _, err := f.Write(chunk); err != nil {
				break
			}
		}
	}
	_ = f.Close()
	for i := 0; i < 40 && ledgerRefusals < 3; i++ {
		pay("full")
	}
	if ledgerRefusals == 0 {
		t.Fatal("40 paid requests on a full disk, and the ledger never refused a write")
	}
	// A refusal comes only after a failed execution record, whose request
	// still got its result: the chain took its payment.
	if n := metric(get(t, url+"/metrics"), `agentnode_payments_total{outcome="settled_unrecorded"}`); n < 1 {
		t.Fatalf("ledger refusals without a payment settled unrecorded before them (%v)", n)
	}
	t.Logf("disk full: %d ledger refusals, %d results", ledgerRefusals, results)

	// Space returns: payments work again without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The first request a second after the last failed record is let
	// through; the ones before it are refused, charged nothing.
	deadline := time.Now().Add(10 * time.Second)
	for code := pay("after"); code != http.StatusOK; code = pay("after") {
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after space returned: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := nodetest.StartConfig(t, paidConfig(env, dir, testPrice)) // recovery
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before).Int64(); d != int64(results)*testPrice {
		t.Fatalf("pay_to gained %d for %d results of %d", d, results, testPrice)
	}
	for _, k := range keys {
		e, err := ledgerEntryOrNone(dir, k)
		switch {
		case err != nil:
			t.Fatal(err)
		case e == nil:
			// never recorded: the execution record failed (charged only when its result came back)
		case e.State != ledger.StateSettled && e.State != ledger.StateReleased:
			t.Errorf("entry %s ended %s", k, e.State)
		}
	}
	t.Logf("%d results paid, %d refusals by the full ledger, every entry settled or released", results, ledgerRefusals)
}

// ledgerEntryOrNone reads a stopped node's ledger entry, nil when there
// is none.
func ledgerEntryOrNone(dataDir string, k ledger.Key) (*ledger.Entry, error) {
	db, err := bolt.Open(filepath.Join(dataDir, "node.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	l, err := ledger.Open(db)
	if err != nil {
		return nil, err
	}
	e, err := l.Get(context.Background(), k)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}
