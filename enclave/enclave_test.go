package enclave_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

type harness struct {
	enc   *enclave.Enclave
	now   atomic.Int64
	vs    attest.Verifiers
	clock func() time.Time
}

func newHarness(t *testing.T, mut func(*enclave.Config)) *harness {
	t.Helper()
	ctx := context.Background()
	exec, err := wasm.New(ctx, wasm.Config{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Close(ctx) })
	id, err := enclave.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	h := &harness{vs: attest.Verifiers{attest.PlatformSim: sim.Verifier{}}}
	h.now.Store(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	h.clock = func() time.Time { return time.Unix(0, h.now.Load()) }
	cfg := enclave.Config{Identity: id, Attester: sim.NewAttester(key, [48]byte{1}), Executor: exec, Now: h.clock}
	if mut != nil {
		mut(&cfg)
	}
	if h.enc, err = enclave.New(cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

type clientSession struct {
	info  *enclave.SessionInfo
	key   *seal.PrivateKey
	nonce []byte
}

func (h *harness) open(t *testing.T, suite seal.Suite) *clientSession {
	t.Helper()
	key, err := seal.GenerateKey(suite)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, 32)
	rand.Read(nonce)
	info, err := h.enc.CreateSession(context.Background(), enclave.SessionParams{Suite: suite, ClientPub: key.PublicKey().Bytes(), Nonce: nonce, Attest: true})
	if err != nil {
		t.Fatal(err)
	}
	return &clientSession{info: info, key: key, nonce: nonce}
}

func (c *clientSession) sealRequest(t *testing.T, rid enclave.ID, p enclave.ExecPayload) []byte {
	t.Helper()
	pub, err := seal.ParsePublicKey(c.info.Suite, c.info.SessionPub)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := json.Marshal(p)
	env, err := seal.Seal(pub, []byte(enclave.InfoExec), enclave.MessageAAD(c.info.ID, rid), pt)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func newID() enclave.ID {
	var id enclave.ID
	rand.Read(id[:])
	return id
}

func TestSessionEvidenceBindsKeysAndNonce(t *testing.T) {
	h := newHarness(t, nil)
	for _, suite := range seal.Suites() {
		c := h.open(t, suite)
		want := attest.SessionReportData(c.info.IdentityPub, c.info.SessionPub, c.key.PublicKey().Bytes(), c.nonce)
		if _, err := h.vs.Verify(context.Background(), *c.info.Evidence, want, attest.DevPolicy()); err != nil {
			t.Fatalf("%s: evidence does not verify against its binding: %v", suite, err)
		}
		otherNonce := attest.SessionReportData(c.info.IdentityPub, c.info.SessionPub, c.key.PublicKey().Bytes(), make([]byte, 32))
		if _, err := h.vs.Verify(context.Background(), *c.info.Evidence, otherNonce, attest.DevPolicy()); !errors.Is(err, attest.ErrReportDataMismatch) {
			t.Fatalf("%s: evidence verified for another nonce: %v", suite, err)
		}
		if _, err := h.vs.Verify(context.Background(), *c.info.Evidence, want, attest.DefaultPolicy()); !errors.Is(err, attest.ErrPlatformNotAllowed) {
			t.Fatalf("%s: default policy accepted sim: %v", suite, err)
		}
	}
}

func TestCreateSessionRejectsBadInput(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := seal.GenerateKey(seal.X25519)
	for name, p := range map[string]enclave.SessionParams{
		"unknown suite":        {Suite: "rsa", ClientPub: key.PublicKey().Bytes()},
		"short client key":     {ClientPub: make([]byte, 5)},
		"key of other suite":   {Suite: seal.MLKEM768X25519, ClientPub: key.PublicKey().Bytes()},
		"attest without nonce": {ClientPub: key.PublicKey().Bytes(), Attest: true},
		"short nonce":          {ClientPub: key.PublicKey().Bytes(), Nonce: make([]byte, 8), Attest: true},
	} {
		if _, err := h.enc.CreateSession(context.Background(), p); !errors.Is(err, enclave.ErrBadRequest) {
			t.Errorf("%s: err = %v, want ErrBadRequest", name, err)
		}
	}
	if n := h.enc.Sessions(); n != 0 {
		t.Fatalf("rejected requests left %d sessions", n)
	}
}

func TestRunRoundTripVerifies(t *testing.T) {
	h := newHarness(t, nil)
	c := h.open(t, seal.X25519)
	rid := newID()
	args := []string{"hello", "world"}
	job, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, c.sealRequest(t, rid, enclave.ExecPayload{Wasm: wasmtest.EchoArgs, Args: args}))
	if err != nil {
		t.Fatal(err)
	}
	pay := enclave.PaymentRef{Network: "eip155:1337", Payer: "0xAB", Nonce: "0x01"}
	r, err := h.enc.Run(context.Background(), job, enclave.RunOptions{Payment: pay, Attest: true})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := seal.Open(c.key, []byte(enclave.InfoResult), enclave.MessageAAD(c.info.ID, rid), r.SealedResult)
	if err != nil {
		t.Fatal(err)
	}
	var res enclave.ResultPayload
	if err := json.Unmarshal(pt, &res); err != nil {
		t.Fatal(err)
	}
	if string(res.Output) != "hello world\n" || res.ExitCode != 0 {
		t.Fatalf("output %q exit %d", res.Output, res.ExitCode)
	}
	if res.Fuel == 0 || r.Fuel != res.Fuel {
		t.Fatalf("fuel %d in the sealed result, %d in the receipt: want the metered count", res.Fuel, r.Fuel)
	}
	tr := enclave.Transcript{SessionID: c.info.ID, RequestID: rid, ModuleHash: sha256.Sum256(wasmtest.EchoArgs), Args: args,
		Output: res.Output, ExitCode: res.ExitCode, Fuel: res.Fuel, Payment: pay}
	copy(tr.Salt[:], res.Salt)
	if tr.Commitment() != r.Commitment {
		t.Fatal("client-side transcript does not reproduce the commitment")
	}
	if err := enclave.VerifyCommitmentSignature(c.info.IdentityPub, r.Commitment, r.Signature); err != nil {
		t.Fatal(err)
	}
	if _, err := h.vs.Verify(context.Background(), *r.Evidence, attest.ResultReportData(r.Commitment[:]), attest.DevPolicy()); err != nil {
		t.Fatalf("result evidence: %v", err)
	}
	// The fuel is bound: a count one unit off gives another commitment.
	tr.Fuel++
	if tr.Commitment() == r.Commitment {
		t.Fatal("commitment does not bind the fuel")
	}
	tr.Fuel--
	// The payment is bound: another payer gives another commitment.
	tr.Payment.Payer = "0xCD"
	if tr.Commitment() == r.Commitment {
		t.Fatal("commitment does not bind the payment")
	}
}

// TestRunFuelBudget checks that RunOptions.Fuel reaches the executor: the same job
// runs with a budget of exactly the fuel it needs and fails with ErrOutOfFuel, without
// a receipt, one unit short.
func TestRunFuelBudget(t *testing.T) {
	h := newHarness(t, nil)
	c := h.open(t, seal.X25519)
	run := func(fuel uint64) (*enclave.Receipt, error) {
		t.Helper()
		rid := newID()
		job, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, c.sealRequest(t, rid, enclave.ExecPayload{Wasm: wasmtest.EchoArgs, Args: []string{"x"}}))
		if err != nil {
			t.Fatal(err)
		}
		return h.enc.Run(context.Background(), job, enclave.RunOptions{Fuel: fuel})
	}
	r, err := run(0)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := run(r.Fuel); err != nil || again.Fuel != r.Fuel {
		t.Fatalf("budget of exactly %d units: %v", r.Fuel, err)
	}
	if short, err := run(r.Fuel - 1); !errors.Is(err, wasm.ErrOutOfFuel) || short != nil {
		t.Fatalf("budget one unit short: %+v, %v, want ErrOutOfFuel and no receipt", short, err)
	}
}

func TestTamperingIsRejected(t *testing.T) {
	h := newHarness(t, nil)
	c := h.open(t, seal.X25519)
	rid := newID()
	env := c.sealRequest(t, rid, enclave.ExecPayload{Wasm: wasmtest.Hello})
	for i := 0; i < len(env); i += 7 {
		bad := bytes.Clone(env)
		bad[i] ^= 0x80
		if _, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, bad); !errors.Is(err, enclave.ErrDecrypt) {
			t.Fatalf("flipped byte %d: err = %v", i, err)
		}
	}
	other := c.info.ID
	other[3] ^= 1
	if _, err := h.enc.OpenRequest(context.Background(), other, rid, env); !errors.Is(err, enclave.ErrSessionNotFound) {
		t.Fatalf("other session id: %v", err)
	}
	if _, err := h.enc.OpenRequest(context.Background(), c.info.ID, newID(), env); !errors.Is(err, enclave.ErrDecrypt) {
		t.Fatalf("request moved to another request id: %v", err)
	}
	// Failed attempts changed nothing: the genuine request still runs.
	job, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.enc.Run(context.Background(), job, enclave.RunOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestReplayIsRejected(t *testing.T) {
	h := newHarness(t, nil)
	c := h.open(t, seal.X25519)
	rid := newID()
	env := c.sealRequest(t, rid, enclave.ExecPayload{Wasm: wasmtest.Hello})
	const n = 20
	jobs := make([]*enclave.Job, n)
	for i := range jobs {
		j, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, env)
		if err != nil {
			t.Fatal(err)
		}
		jobs[i] = j
	}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			_, err := h.enc.Run(context.Background(), j, enclave.RunOptions{})
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, enclave.ErrReplay):
				t.Errorf("concurrent run: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d of %d concurrent runs of one request id succeeded, want 1", ok.Load(), n)
	}
	if _, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, env); !errors.Is(err, enclave.ErrReplay) {
		t.Fatalf("replay after run: %v", err)
	}
}

func TestSessionExpiresAndIsBounded(t *testing.T) {
	h := newHarness(t, func(c *enclave.Config) { c.SessionTTL = time.Minute; c.MaxSessions = 3 })
	c := h.open(t, seal.X25519)
	h.now.Add(int64(2 * time.Minute))
	rid := newID()
	if _, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, c.sealRequest(t, rid, enclave.ExecPayload{Wasm: wasmtest.Hello})); !errors.Is(err, enclave.ErrSessionExpired) {
		t.Fatalf("expired session: %v", err)
	}
	for range 10 {
		h.open(t, seal.X25519)
	}
	if n := h.enc.Sessions(); n != 3 {
		t.Fatalf("%d sessions held, bound is 3", n)
	}
}

func TestSessionExhausted(t *testing.T) {
	h := newHarness(t, func(c *enclave.Config) { c.MaxRequestsPerSession = 2 })
	c := h.open(t, seal.X25519)
	for i := range 3 {
		rid := newID()
		job, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, c.sealRequest(t, rid, enclave.ExecPayload{Wasm: wasmtest.Hello}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.enc.Run(context.Background(), job, enclave.RunOptions{})
		if want := i == 2; errors.Is(err, enclave.ErrSessionExhausted) != want {
			t.Fatalf("request %d: err = %v", i, err)
		}
	}
}

func TestBadPayloads(t *testing.T) {
	h := newHarness(t, nil)
	c := h.open(t, seal.X25519)
	for name, tc := range map[string]struct {
		payload any
		want    error
	}{
		"neither module nor agent": {enclave.ExecPayload{Args: []string{"x"}}, enclave.ErrBadRequest},
		"module and agent":         {enclave.ExecPayload{Wasm: wasmtest.Hello, Agent: "a"}, enclave.ErrBadRequest},
		"NUL in argument":          {enclave.ExecPayload{Wasm: wasmtest.Hello, Args: []string{"a\x00b"}}, enclave.ErrBadRequest},
		"unknown field":            {map[string]any{"wasm": wasmtest.Hello, "argv": []string{}}, enclave.ErrBadRequest},
		"agent without registry":   {enclave.ExecPayload{Agent: "arxiv"}, enclave.ErrUnknownAgent},
		"invalid module":           {enclave.ExecPayload{Wasm: []byte("\x00asm garbage")}, wasm.ErrInvalidModule},
	} {
		rid := newID()
		pub, _ := seal.ParsePublicKey(c.info.Suite, c.info.SessionPub)
		pt, _ := json.Marshal(tc.payload)
		env, _ := seal.Seal(pub, []byte(enclave.InfoExec), enclave.MessageAAD(c.info.ID, rid), pt)
		if _, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, env); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}

func TestCommitmentHidesAndBinds(t *testing.T) {
	base := enclave.Transcript{Args: []string{"a", "b"}, Output: []byte("out"), Stdin: []byte("in")}
	c0 := base.Commitment()
	salted := base
	salted.Salt[0] = 1
	if salted.Commitment() == c0 {
		t.Fatal("salt does not change the commitment")
	}
	// Length framing: moving a byte between adjacent arguments must change
	// the commitment.
	shifted := base
	shifted.Args = []string{"ab", ""}
	if shifted.Commitment() == c0 {
		t.Fatal("argument boundaries are not bound")
	}
	toStdin := base
	toStdin.Args = []string{"a"}
	toStdin.Stdin = []byte("bin")
	if toStdin.Commitment() == c0 {
		t.Fatal("argument/stdin boundary is not bound")
	}
	caseOnly := base
	caseOnly.Payment = enclave.PaymentRef{Payer: "0xAB"}
	lower := base
	lower.Payment = enclave.PaymentRef{Payer: "0xab"}
	if caseOnly.Commitment() != lower.Commitment() {
		t.Fatal("hex case of the payer changes the commitment")
	}
}

// TestCommitmentGolden pins the commitment of a fixed transcript, so that
// independent implementations (and future changes) can check themselves.
func TestCommitmentGolden(t *testing.T) {
	var tr enclave.Transcript
	for i := range tr.SessionID {
		tr.SessionID[i], tr.RequestID[i] = byte(i), byte(0x10+i)
	}
	for i := range tr.Salt {
		tr.Salt[i] = byte(0xa0 + i%16)
	}
	tr.ModuleHash = sha256.Sum256([]byte("module"))
	tr.Args, tr.Stdin, tr.Output = []string{"hello", "world"}, []byte("stdin"), []byte("hello world\n")
	tr.ExitCode, tr.Fuel = 3, 12345
	tr.Payment = enclave.PaymentRef{Network: "eip155:84532", Payer: "0x857b06519E91e3A54538791bDbb0E22373e36b66", Nonce: "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"}
	got := tr.Commitment()
	// Computed independently (Python hashlib) from the layout in commitment.go.
	const want = "7f60aad42e300e7ad9325fba300330c17d60ae18b5711113aed935ab45b318d1"
	if h := hex.EncodeToString(got[:]); h != want {
		t.Fatalf("commitment = %s, want %s", h, want)
	}
}

// TestGuestSeedReproducesRun re-runs a result from its receipt alone: the
// seed GuestSeed derives from the result's salt and request id gives the
// same output (here random bytes) and the same fuel on another executor.
func TestGuestSeedReproducesRun(t *testing.T) {
	h := newHarness(t, nil)
	c := h.open(t, seal.X25519)
	rid := newID()
	job, err := h.enc.OpenRequest(context.Background(), c.info.ID, rid, c.sealRequest(t, rid, enclave.ExecPayload{Wasm: wasmtest.Random}))
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.enc.Run(context.Background(), job, enclave.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := seal.Open(c.key, []byte(enclave.InfoResult), enclave.MessageAAD(c.info.ID, rid), r.SealedResult)
	if err != nil {
		t.Fatal(err)
	}
	var res enclave.ResultPayload
	if err := json.Unmarshal(pt, &res); err != nil {
		t.Fatal(err)
	}
	var salt [32]byte
	copy(salt[:], res.Salt)
	other, err := wasm.New(context.Background(), wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	m, err := other.Compile(context.Background(), wasmtest.Random)
	if err != nil {
		t.Fatal(err)
	}
	again, err := other.Run(context.Background(), m, wasm.Input{Seed: enclave.GuestSeed(salt, rid)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Stdout, res.Output) || again.Fuel != res.Fuel || len(res.Output) != 32 {
		t.Fatalf("re-run: output %x fuel %d, the result had %x and %d", again.Stdout, again.Fuel, res.Output, res.Fuel)
	}
	if diff, _ := other.Run(context.Background(), m, wasm.Input{Seed: enclave.GuestSeed(salt, newID())}); bytes.Equal(diff.Stdout, res.Output) {
		t.Fatal("another request id gives the same random bytes")
	}
}
