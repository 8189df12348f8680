package node_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/chain"
	"github.com/agentnet/agentnode/x402/evm"
	"github.com/agentnet/agentnode/x402/x402test"
)

const testPrice = 10000

// paidConfig returns the config of a node on env's chain that charges
// price, settling with env's gas key over the in-process client.
func paidConfig(env *x402test.Env, dataDir string, price uint64) node.Config {
	off := false
	cfg := node.Config{Listening: "127.0.0.1:0", DataDir: dataDir, TEE: "sim", LogLevel: "error", Price: price, P2P: &off}
	cfg.RPC = env.Chain.Client().Client()
	cfg.GasKey = env.GasKey
	cfg.Asset = env.Token.Hex()
	cfg.PayTo = env.PayTo.Hex()
	return cfg
}

// payingClient returns a client of the node at url that pays with key.
func payingClient(t testing.TB, url string, key *ecdsa.PrivateKey, maxPrice int64) *client.Client {
	t.Helper()
	var payer *client.Payer
	if key != nil {
		payer = &client.Payer{Key: key, MaxPrice: big.NewInt(maxPrice)}
	}
	c, err := client.New(client.Config{NodeURL: url, Policy: attest.DevPolicy(), Verifiers: nodetest.Verifiers(), Payer: payer})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPaidExecution(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	n := nodetest.StartConfig(t, paidConfig(env, t.TempDir(), testPrice))
	ctx := context.Background()
	in := client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"paid"}}

	// Without a payer: a clear error naming the price, and no funds move.
	_, err := payingClient(t, n.BridgeURL(), nil, 0).Exec(ctx, in)
	var perr *client.PaymentError
	if !errors.As(err, &perr) || !errors.Is(err, client.ErrNoPayer) || !strings.Contains(err.Error(), "10000 atomic units of token "+env.Token.Hex()) {
		t.Fatalf("unpaid: %v", err)
	}
	// Over the max price: refused by the client before it signs.
	_, err = payingClient(t, n.BridgeURL(), env.PayerKey, testPrice-1).Exec(ctx, in)
	if !errors.Is(err, client.ErrCannotPay) || !strings.Contains(err.Error(), "over the max price 9999") {
		t.Fatalf("over max price: %v", err)
	}

	before := env.Balance(t, env.PayTo)
	res, err := payingClient(t, n.BridgeURL(), env.PayerKey, testPrice).Exec(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Output) != "paid\n" {
		t.Fatalf("output %q", res.Output)
	}
	p := res.Payment
	if p == nil || p.Amount != "10000" || p.Network != "eip155:1337" || !strings.EqualFold(p.Payer, env.Payer.Hex()) ||
		len(p.Nonce) != 66 || len(p.Transaction) != 66 {
		t.Fatalf("payment %+v", p)
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != testPrice {
		t.Fatalf("pay_to gained %s, want %d", d, testPrice)
	}
	if st, err := x402.DecodeSettleResponse(res.Header.Get(x402.HeaderPaymentResponse)); err != nil || !st.Success || st.Transaction != p.Transaction {
		t.Fatalf("PAYMENT-RESPONSE %+v %v", st, err)
	}
	// Known terms are paid up front: no second 402.
	payer := payingClient(t, n.BridgeURL(), env.PayerKey, testPrice)
	for range 3 {
		if res, err := payer.Exec(ctx, in); err != nil || res.Payment == nil {
			t.Fatalf("paid again: %+v %v", res, err)
		}
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != 4*testPrice {
		t.Fatalf("pay_to gained %s, want %d", d, 4*testPrice)
	}

	// The receipt's payment checks out on chain, and only the real one.
	rc := res.Receipt(in, attest.DevPolicy())
	ec, err := ethclient.Dial(env.Chain.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	s, err := client.CheckSettlement(ctx, ec, &rc)
	if err != nil {
		t.Fatal(err)
	}
	if s.PayTo != env.PayTo || s.Token != env.Token || s.Amount.Int64() != testPrice {
		t.Fatalf("settlement %+v", s)
	}
	forged := rc
	fp := *rc.Payment
	fp.Amount = "20000"
	forged.Payment, forged.PaymentRequirements = &fp, nil
	if _, err := client.CheckSettlement(ctx, ec, &forged); err == nil {
		t.Fatal("a receipt claiming another amount checked out")
	}
	if body := get(t, n.BridgeURL()+"/metrics"); metric(body, `agentnode_payments_total{outcome="settled"}`) != 4 ||
		metric(body, `agentnode_payments_total{outcome="required"}`) != 4 || !strings.Contains(body, "agentnode_payment_settlement_seconds_count 4") {
		t.Fatalf("payment metrics:\n%s", grep(body, "payment"))
	}
}

// rawRequest seals in for a fresh session of c and returns the bridge
// request, to send by hand.
func rawRequest(t testing.TB, c *client.Client, in client.ExecInput) *api.ExecRequest {
	t.Helper()
	s, err := c.OpenSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sealIn(t, s, in)
}

func sealIn(t testing.TB, s *client.Session, in client.ExecInput) *api.ExecRequest {
	t.Helper()
	var rid enclave.ID
	copy(rid[:], crypto.Keccak256([]byte(time.Now().String() + strconv.Itoa(seq())))[:16])
	req, err := client.SealRequest(s, rid, in)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

var (
	seqMu sync.Mutex
	seqN  int
)

func seq() int {
	seqMu.Lock()
	defer seqMu.Unlock()
	seqN++
	return seqN
}

// post sends an exec request with hdr and returns the answer.
func post(t testing.TB, url string, hdr http.Header, req *api.ExecRequest) (*http.Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(req)
	r, err := http.NewRequest(http.MethodPost, url+"/x402_execute/verifiable/wasm", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// required asks the node for its terms (a request without payment).
func required(t testing.TB, url string, c *client.Client) x402.PaymentRequirements {
	t.Helper()
	resp, body := post(t, url, nil, rawRequest(t, c, client.ExecInput{Wasm: wasmtest.Hello}))
	if resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("unpaid request: %d %s", resp.StatusCode, body)
	}
	pr, err := x402.DecodePaymentRequired(resp.Header.Get(x402.HeaderPaymentRequired))
	if err != nil || len(pr.Accepts) != 1 {
		t.Fatalf("PAYMENT-REQUIRED: %+v %v", pr, err)
	}
	var v1 x402.PaymentRequiredV1
	if err := json.Unmarshal(body, &v1); err != nil || v1.X402Version != 1 || v1.Error != x402.DefaultV1Error || v1.Accepts == nil {
		t.Fatalf("v1 body %s: %v", body, err)
	}
	return pr.Accepts[0]
}

func signed(t testing.TB, key *ecdsa.PrivateKey, req x402.PaymentRequirements, opts ...evm.SignOption) string {
	t.Helper()
	p, err := evm.Sign(key, req, opts...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := x402.EncodePaymentPayload(p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestBadPaymentsMoveNoFunds: every bad payment is answered 402 with the
// reason of its defect, runs nothing and moves no funds.
func TestBadPaymentsMoveNoFunds(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	n := nodetest.StartConfig(t, paidConfig(env, t.TempDir(), testPrice))
	url := n.BridgeURL()
	c := payingClient(t, url, nil, 0)
	req := required(t, url, c)
	poor := env.NewPayer(t, big.NewInt(testPrice-1))
	other, _ := crypto.GenerateKey()
	now := time.Now()

	// A payment used once, then presented again.
	used := signed(t, env.PayerKey, req)
	if resp, body := post(t, url, http.Header{"Payment-Signature": {used}}, rawRequest(t, c, client.ExecInput{Wasm: wasmtest.Hello})); resp.StatusCode != 200 {
		t.Fatalf("first use: %d %s", resp.StatusCode, body)
	}

	with := func(mut func(*x402.PaymentRequirements)) x402.PaymentRequirements {
		r := req
		r.Extra = map[string]any{"name": req.ExtraString("name"), "version": req.ExtraString("version")}
		mut(&r)
		return r
	}
	badSig := func() string {
		p, _ := evm.Sign(env.PayerKey, req)
		q, _ := evm.Sign(other, req, evm.WithNonce(common.HexToHash(mustExact(t, p).Authorization.Nonce)))
		e := mustExact(t, p)
		e.Signature = mustExact(t, q).Signature // signed by another key than "from"
		p.Payload, _ = x402.NewExactEVMPayload(e)
		h, _ := x402.EncodePaymentPayload(p)
		return h
	}
	cases := []struct {
		name, header string
		check        func(reason string) bool
	}{
		{"wrong amount", signed(t, env.PayerKey, with(func(r *x402.PaymentRequirements) { r.Amount = "5000" })), x402.IsAmountMismatch},
		{"wrong recipient", signed(t, env.PayerKey, with(func(r *x402.PaymentRequirements) { r.PayTo = env.Payer.Hex() })), is(x402.ReasonExactEVMRecipientMismatch)},
		{"wrong network", signed(t, env.PayerKey, with(func(r *x402.PaymentRequirements) { r.Network = x402.NetworkBaseSepolia })), is(x402.ReasonExactEVMNetworkMismatch)},
		{"expired", signed(t, env.PayerKey, req, evm.WithValidity(now.Add(-time.Hour), now.Add(-time.Minute))), is(x402.ReasonExactEVMValidBefore)},
		{"not yet valid", signed(t, env.PayerKey, req, evm.WithValidity(now.Add(10*time.Minute), now.Add(time.Hour))), is(x402.ReasonExactEVMValidAfter)},
		{"bad signature", badSig(), is(x402.ReasonExactEVMSignature)},
		{"reused nonce", used, x402.IsNonceUsed},
		{"insufficient balance", signed(t, poor, req), x402.IsInsufficientBalance},
		{"malformed header", "eyJub3QiOiJhIHBheW1lbnQ-", is(x402.ReasonInvalidPayload)},
		{"malformed base64", "%%%", is(x402.ReasonInvalidPayload)},
	}
	metrics := get(t, url+"/metrics")
	runs := metric(metrics, `agentnode_executions_total{outcome="ok"}`)
	payer, payee, poorBal := env.Balance(t, env.Payer), env.Balance(t, env.PayTo), env.Balance(t, crypto.PubkeyToAddress(poor.PublicKey))
	for _, tc := range cases {
		resp, body := post(t, url, http.Header{"Payment-Signature": {tc.header}}, rawRequest(t, c, client.ExecInput{Wasm: wasmtest.Hello}))
		pr, err := x402.DecodePaymentRequired(resp.Header.Get(x402.HeaderPaymentRequired))
		if resp.StatusCode != http.StatusPaymentRequired || err != nil || !tc.check(pr.Error) {
			t.Errorf("%s: status %d, reason %q (%v), body %s", tc.name, resp.StatusCode, pr.Error, err, body)
		}
	}
	if got := metric(get(t, url+"/metrics"), `agentnode_executions_total{outcome="ok"}`); got != runs {
		t.Errorf("bad payments ran %v executions", got-runs)
	}
	if env.Balance(t, env.Payer).Cmp(payer) != 0 || env.Balance(t, env.PayTo).Cmp(payee) != 0 ||
		env.Balance(t, crypto.PubkeyToAddress(poor.PublicKey)).Cmp(poorBal) != 0 {
		t.Fatal("a bad payment moved funds")
	}
}

func is(want string) func(string) bool { return func(r string) bool { return r == want } }

func mustExact(t testing.TB, p x402.PaymentPayload) x402.ExactEVMPayload {
	t.Helper()
	e, err := p.ExactEVM()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestConcurrentSamePayment: 50 requests carrying one payment at once run
// once and settle once.
func TestConcurrentSamePayment(t *testing.T) {
	env := x402test.NewEnv(t, chain.Config{})
	n := nodetest.StartConfig(t, paidConfig(env, t.TempDir(), testPrice))
	url := n.BridgeURL()
	c := payingClient(t, url, nil, 0)
	header := http.Header{"Payment-Signature": {signed(t, env.PayerKey, required(t, url, c))}}
	s, err := c.OpenSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reqs := make([]*api.ExecRequest, 50)
	for i := range reqs {
		reqs[i] = sealIn(t, s, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{strconv.Itoa(i)}})
	}
	before := env.Balance(t, env.PayTo)
	codes := make([]int, len(reqs))
	reasons := make([]string, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() {
			resp, _ := post(t, url, header, r)
			codes[i] = resp.StatusCode
			if pr, err := x402.DecodePaymentRequired(resp.Header.Get(x402.HeaderPaymentRequired)); err == nil {
				reasons[i] = pr.Error
			}
		})
	}
	wg.Wait()
	ok := 0
	for i, code := range codes {
		switch {
		case code == http.StatusOK:
			ok++
		case code != http.StatusPaymentRequired || !x402.IsNonceUsed(reasons[i]):
			t.Errorf("request %d: %d %q", i, code, reasons[i])
		}
	}
	body := get(t, url+"/metrics")
	if ok != 1 || metric(body, `agentnode_executions_total{outcome="ok"}`) != 1 || metric(body, `agentnode_payments_total{outcome="settled"}`) != 1 {
		t.Fatalf("%d of 50 succeeded; metrics:\n%s", ok, grep(body, "agentnode_executions_total|agentnode_payments_total"))
	}
	if d := new(big.Int).Sub(env.Balance(t, env.PayTo), before); d.Int64() != testPrice {
		t.Fatalf("pay_to gained %s, want exactly one payment of %d", d, testPrice)
	}
}

func get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metric returns the value of a Prometheus sample line, 0 when absent.
func metric(body, sample string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func grep(body, pattern string) string {
	re := regexp.MustCompile(pattern)
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if re.MatchString(l) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
