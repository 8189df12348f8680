package node_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/attesttest"
	"github.com/agentnet/agentnode/enclave/attest/detect"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/node/nodetest"
)

// teeFixture is a fake-root TEE of one platform: an attester running the
// production tdx or snp code over a test-only signing chain, the client
// verifiers that trust that chain, and policies pinning its measurement or
// another one.
type teeFixture struct {
	platform attest.Platform
	attester attest.Attester
	vs       attest.Verifiers
	// register is the measurement the policies pin, value its value.
	register string
	value    []byte
	pin      *attest.Policy
	otherPin *attest.Policy
}

func teeFixtures(t *testing.T) []teeFixture {
	t.Helper()
	now := time.Now()
	root, err := attesttest.NewTDXRoot(now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	mrtd := bytes.Repeat([]byte{0x5a}, 48)
	tdxVS, err := detect.Verifiers(detect.VerifierConfig{TDXRoots: root.RootPEM()})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := attesttest.NewSNPSigner(attesttest.SNPSignerOptions{Created: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	measurement := bytes.Repeat([]byte{0xa5}, 48)
	snpVS, err := detect.Verifiers(detect.VerifierConfig{SNPRoots: detect.AMDRootsPEM(signer.Signer.Ask, signer.Signer.Ark)})
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte{0x01}, 48)
	return []teeFixture{
		{
			platform: attest.PlatformTDX,
			attester: attesttest.NewTDXAttester(root, attesttest.TDXQuoteOptions{MRTD: mrtd}),
			vs:       tdxVS,
			register: "mrtd", value: mrtd,
			pin:      &attest.Policy{TDX: attest.TDXPolicy{MRTD: []attest.HexBytes{mrtd}}},
			otherPin: &attest.Policy{TDX: attest.TDXPolicy{MRTD: []attest.HexBytes{other}}},
		},
		{
			platform: attest.PlatformSNP,
			attester: attesttest.NewSNPAttester(signer, attesttest.SNPReportOptions{Measurement: measurement, HostData: bytes.Repeat([]byte{7}, 32)}),
			vs:       snpVS,
			register: "measurement", value: measurement,
			pin:      &attest.Policy{SNP: attest.SNPPolicy{Measurement: []attest.HexBytes{measurement}}},
			otherPin: &attest.Policy{SNP: attest.SNPPolicy{Measurement: []attest.HexBytes{other}}},
		},
	}
}

// start starts a node on f's attester; mut may adjust the config. The
// node is closed when the test ends.
func (f teeFixture) start(t *testing.T, mut func(*node.Config)) *node.Node {
	t.Helper()
	cfg := node.Config{Listening: "127.0.0.1:0", DataDir: t.TempDir(), TEE: string(f.platform), LogLevel: "error", Attester: f.attester, Verifiers: f.vs}
	if mut != nil {
		mut(&cfg)
	}
	return nodetest.StartConfig(t, cfg)
}

func (f teeFixture) client(t *testing.T, url string, p *attest.Policy) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{NodeURL: url, Policy: p, Verifiers: f.vs, HTTPClient: httpClient(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// httpClient returns an HTTP client whose connections are closed when the
// test ends, before the node it talks to is closed: a connection a client
// dialled but never used would otherwise hold up the server's graceful
// shutdown for seconds.
func httpClient(t *testing.T) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// The full session and execution flow runs on fake TDX and SNP hardware
// through the real bridge and client, and the receipt shows the platform
// and the measurements the client checked.
func TestTEENodeSessionAndExecution(t *testing.T) {
	ctx := context.Background()
	for _, f := range teeFixtures(t) {
		t.Run(string(f.platform), func(t *testing.T) {
			n := f.start(t, nil)
			c := f.client(t, n.BridgeURL(), f.pin)

			info, err := c.NodeInfo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.Platform != string(f.platform) || info.Measurements[f.register] != hex.EncodeToString(f.value) {
				t.Errorf("/v1/node: platform %q, measurements %v", info.Platform, info.Measurements)
			}

			in := client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"hello", string(f.platform)}, AttestResult: true}
			res, err := c.Exec(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(res.Output), "hello "+string(f.platform)+"\n"; got != want || res.ExitCode != 0 {
				t.Fatalf("output %q exit %d, want %q", got, res.ExitCode, want)
			}
			s := res.Session
			if s.Platform != f.platform || !bytes.Equal(s.Claims.Measurements[f.register], f.value) || s.Claims.Debug {
				t.Fatalf("session claims %+v", s.Claims)
			}
			if res.ResultEvidence == nil || res.ResultEvidence.Platform != f.platform {
				t.Fatalf("no %s result evidence: %+v", f.platform, res.ResultEvidence)
			}

			rc := res.Receipt(in, f.pin)
			if rc.Platform != string(f.platform) || rc.Measurement != "pinned" || !rc.Verified || rc.ResultQuote == "" {
				t.Fatalf("receipt platform %q measurement %q verified %t result quote %d", rc.Platform, rc.Measurement, rc.Verified, len(rc.ResultQuote))
			}
			if rc.Claims == nil || !bytes.Equal(rc.Claims.Measurements[f.register], f.value) {
				t.Fatalf("receipt claims %+v", rc.Claims)
			}
			// The saved receipt verifies offline, and says what it checked.
			saved, err := json.Marshal(rc)
			if err != nil {
				t.Fatal(err)
			}
			var back client.Receipt
			if err := json.Unmarshal(saved, &back); err != nil {
				t.Fatal(err)
			}
			claims, err := client.VerifyReceipt(ctx, &back, f.vs, f.pin)
			if err != nil {
				t.Fatalf("verify saved receipt: %v", err)
			}
			if claims.Platform != f.platform || !bytes.Equal(claims.Measurements[f.register], f.value) {
				t.Fatalf("receipt verified to %+v", claims)
			}
			if _, err := client.VerifyReceipt(ctx, &back, f.vs, f.otherPin); !errors.Is(err, attest.ErrMeasurementMismatch) {
				t.Fatalf("receipt under a policy pinning another measurement: %v", err)
			}

			// Without a pinning policy the client still runs, and the
			// receipt says the measurement was unpinned.
			res, err = f.client(t, n.BridgeURL(), nil).Exec(ctx, client.ExecInput{Wasm: wasmtest.Hello})
			if err != nil {
				t.Fatal(err)
			}
			if rc := res.Receipt(client.ExecInput{Wasm: wasmtest.Hello}, nil); rc.Measurement != "unpinned" || rc.Platform != string(f.platform) {
				t.Fatalf("unpinned receipt: platform %q measurement %q", rc.Platform, rc.Measurement)
			}
		})
	}
}

// Several clients verify sessions and results on one node at once.
func TestTEENodeParallelClients(t *testing.T) {
	ctx := context.Background()
	for _, f := range teeFixtures(t) {
		t.Run(string(f.platform), func(t *testing.T) {
			n := f.start(t, nil)
			hc := httpClient(t)
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for i := range 4 {
				wg.Go(func() {
					c, err := client.New(client.Config{NodeURL: n.BridgeURL(), Policy: f.pin, Verifiers: f.vs, HTTPClient: hc})
					if err != nil {
						errs <- err
						return
					}
					arg := fmt.Sprint(i)
					res, err := c.Exec(ctx, client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{arg}, AttestResult: true})
					if err == nil && string(res.Output) != arg+"\n" {
						err = fmt.Errorf("client %d got %q", i, res.Output)
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// mitm is a proxy between client and node that rewrites the node's answer
// to create_keypair.
func mitm(t *testing.T, nodeURL string, rewrite func(*api.CreateKeypairResponse)) string {
	t.Helper()
	u, err := url.Parse(nodeURL)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(r *http.Response) error {
		if r.Request.URL.Path != "/verifiable/encrypt/create_keypair" || r.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return err
		}
		var resp api.CreateKeypairResponse
		if err := json.Unmarshal(b, &resp); err != nil {
			return err
		}
		rewrite(&resp)
		if b, err = json.Marshal(resp); err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Set("Content-Length", fmt.Sprint(len(b)))
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Evidence bound to another session key, another client nonce or another
// identity is refused by the client, so a man in the middle can neither
// read requests nor replay an old session.
func TestTEENodeRejectsWrongReportData(t *testing.T) {
	ctx := context.Background()
	proxyKey, err := seal.GenerateKey(seal.X25519)
	if err != nil {
		t.Fatal(err)
	}
	proxyID, err := enclave.LoadOrCreateIdentity(filepath.Join(t.TempDir(), "proxy.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range teeFixtures(t) {
		t.Run(string(f.platform), func(t *testing.T) {
			n := f.start(t, nil)

			// The proxy's own session key in place of the enclave's.
			swapKey := mitm(t, n.BridgeURL(), func(r *api.CreateKeypairResponse) {
				r.SessionPubkey = hex.EncodeToString(proxyKey.PublicKey().Bytes())
			})
			// The proxy's own identity in place of the node's.
			swapID := mitm(t, n.BridgeURL(), func(r *api.CreateKeypairResponse) {
				r.IdentityPubkey, r.PeerID = hex.EncodeToString(proxyID.PublicKey()), proxyID.PeerID().String()
			})
			// The first session's answer replayed to every later client:
			// genuine evidence, but over another nonce.
			var mu sync.Mutex
			var first *api.CreateKeypairResponse
			replay := mitm(t, n.BridgeURL(), func(r *api.CreateKeypairResponse) {
				mu.Lock()
				defer mu.Unlock()
				if first == nil {
					first = new(api.CreateKeypairResponse)
					*first = *r
					return
				}
				*r = *first
			})
			if _, err := f.client(t, replay, f.pin).OpenSession(ctx); err != nil {
				t.Fatalf("first session through the replaying proxy: %v", err)
			}
			for name, u := range map[string]string{"another session key": swapKey, "another identity key": swapID, "another nonce (replay)": replay} {
				_, err := f.client(t, u, f.pin).OpenSession(ctx)
				if !errors.Is(err, attest.ErrReportDataMismatch) {
					t.Errorf("%s: err = %v, want %v", name, err, attest.ErrReportDataMismatch)
				}
				if _, err := f.client(t, u, f.pin).Exec(ctx, client.ExecInput{Wasm: wasmtest.Hello}); !errors.Is(err, attest.ErrReportDataMismatch) {
					t.Errorf("%s: exec: err = %v", name, err)
				}
			}
		})
	}
}

// A client whose policy pins another measurement refuses the node before
// sending anything.
func TestTEENodeRejectsOtherMeasurement(t *testing.T) {
	ctx := context.Background()
	for _, f := range teeFixtures(t) {
		t.Run(string(f.platform), func(t *testing.T) {
			n := f.start(t, nil)
			_, err := f.client(t, n.BridgeURL(), f.otherPin).Exec(ctx, client.ExecInput{Wasm: wasmtest.Hello})
			if !errors.Is(err, attest.ErrMeasurementMismatch) || !strings.Contains(err.Error(), f.register) {
				t.Fatalf("err = %v, want %v naming %s", err, attest.ErrMeasurementMismatch, f.register)
			}
		})
	}
}

// With attest_results on, every result carries fresh evidence over its
// commitment, which verifies on TDX and SNP and binds to that commitment
// only.
func TestTEENodeResultEvidence(t *testing.T) {
	ctx := context.Background()
	for _, f := range teeFixtures(t) {
		t.Run(string(f.platform), func(t *testing.T) {
			n := f.start(t, func(c *node.Config) { c.AttestResults = true })
			in := client.ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"r"}}
			res, err := f.client(t, n.BridgeURL(), f.pin).Exec(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			ev := res.ResultEvidence
			if ev == nil || ev.Platform != f.platform {
				t.Fatalf("result evidence %+v", ev)
			}
			claims, err := f.vs.Verify(ctx, *ev, attest.ResultReportData(res.Commitment[:]), f.pin)
			if err != nil || !bytes.Equal(claims.Measurements[f.register], f.value) {
				t.Fatalf("result evidence: %v %+v", err, claims)
			}
			other := res.Commitment
			other[0] ^= 1
			if _, err := f.vs.Verify(ctx, *ev, attest.ResultReportData(other[:]), f.pin); !errors.Is(err, attest.ErrReportDataMismatch) {
				t.Fatalf("result evidence for another commitment: %v", err)
			}
			// The session's evidence is no result evidence.
			if _, err := f.vs.Verify(ctx, res.Session.Evidence, attest.ResultReportData(res.Commitment[:]), f.pin); !errors.Is(err, attest.ErrReportDataMismatch) {
				t.Fatalf("session evidence as result evidence: %v", err)
			}
			rc := res.Receipt(in, f.pin)
			rc.ResultQuote = rc.Session.Quote
			if _, err := client.VerifyReceipt(ctx, &rc, f.vs, f.pin); err == nil || !strings.Contains(err.Error(), "result evidence") {
				t.Fatalf("receipt with the session quote as result quote: %v", err)
			}
		})
	}
}
