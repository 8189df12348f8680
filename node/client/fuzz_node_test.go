package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/sim"
	"github.com/agentnet/agentnode/enclave/enclavetest"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
	"github.com/agentnet/agentnode/node/api"
)

// genuine is a real session and a real result of an in-process bridge, the
// seeds a hostile node's answers are mutated from.
type genuine struct {
	c       *Client
	key     *seal.PrivateKey
	nonce   []byte
	session api.CreateKeypairResponse
	s       *Session
	rid     enclave.ID
	in      ExecInput
	result  api.ExecResponse
	plain   []byte // the sealed result's plaintext
}

func newGenuine(f *testing.F) *genuine {
	f.Helper()
	ctx := context.Background()
	enc, _ := enclavetest.New(f, nil)
	c, err := New(Config{NodeURL: "http://127.0.0.1:1", Policy: attest.DevPolicy(), Verifiers: attest.Verifiers{attest.PlatformSim: sim.Verifier{}}})
	if err != nil {
		f.Fatal(err)
	}
	g := &genuine{c: c, nonce: make([]byte, enclave.NonceSize), in: ExecInput{Wasm: wasmtest.EchoArgs, Args: []string{"a"}}}
	rand.Read(g.nonce)
	if g.key, err = seal.GenerateKey(seal.X25519); err != nil {
		f.Fatal(err)
	}
	// The session and result as the bridge answers them (node/bridge
	// imports this package, so the enclave is driven directly).
	info, err := enc.CreateSession(ctx, enclave.SessionParams{Suite: seal.X25519, ClientPub: g.key.PublicKey().Bytes(), Nonce: g.nonce, Attest: true})
	if err != nil {
		f.Fatal(err)
	}
	g.session = api.CreateKeypairResponse{SessionID: info.ID.String(), SessionPubkey: hex.EncodeToString(info.SessionPub),
		IdentityPubkey: hex.EncodeToString(info.IdentityPub), PeerID: info.PeerID, Suite: string(info.Suite),
		Platform: string(info.Platform), ExpiresAt: info.ExpiresAt.UTC(), Quote: hex.EncodeToString(info.Evidence.Quote)}
	if g.s, err = c.verifySession(ctx, g.key, g.nonce, &g.session); err != nil {
		f.Fatal(err)
	}
	rand.Read(g.rid[:])
	req, err := SealRequest(g.s, g.rid, g.in)
	if err != nil {
		f.Fatal(err)
	}
	sealedReq, _ := hex.DecodeString(req.EncryptedRequest)
	job, err := enc.OpenRequest(ctx, info.ID, g.rid, sealedReq)
	if err != nil {
		f.Fatal(err)
	}
	rc, err := enc.Run(ctx, job, enclave.RunOptions{})
	if err != nil {
		f.Fatal(err)
	}
	g.result = api.ExecResponse{SessionID: rc.SessionID.String(), RequestID: rc.RequestID.String(),
		EncryptedResult: hex.EncodeToString(rc.SealedResult), ResultCommitment: hex.EncodeToString(rc.Commitment[:]),
		Signature: hex.EncodeToString(rc.Signature), IdentityPubkey: hex.EncodeToString(rc.IdentityPub), Platform: string(rc.Platform)}
	sealed, _ := hex.DecodeString(g.result.EncryptedResult)
	if g.plain, err = seal.Open(g.key, []byte(enclave.InfoResult), enclave.MessageAAD(g.s.ID, g.rid), sealed); err != nil {
		f.Fatal(err)
	}
	if _, err := c.OpenResult(ctx, g.s, g.rid, g.in, &g.result); err != nil {
		f.Fatal(err)
	}
	return g
}

// FuzzVerifySession feeds the client a hostile node's answer to a session
// request, mutated from a genuine one: it never panics, and it accepts a
// session only with the genuine node's session key, identity key and
// quote, since nothing else carries evidence bound to this client's key
// and nonce.
func FuzzVerifySession(f *testing.F) {
	g := newGenuine(f)
	s := g.session
	f.Add(s.SessionID, s.Suite, s.SessionPubkey, s.IdentityPubkey, s.Quote, s.Platform, s.PeerID)
	f.Add(s.SessionID, s.Suite, strings.ToUpper(s.SessionPubkey), s.IdentityPubkey, s.Quote, s.Platform, s.PeerID)
	f.Add(s.SessionID, "mlkem768x25519", s.SessionPubkey, s.IdentityPubkey, s.Quote, s.Platform, s.PeerID)
	f.Add(s.SessionID, s.Suite, s.SessionPubkey, s.IdentityPubkey, s.Quote, "tdx", s.PeerID)
	f.Add(s.SessionID, s.Suite, s.SessionPubkey, s.IdentityPubkey, s.Quote, s.Platform, "12D3KooWEAb2UG3fGbyAyiLiqBkDKSoqnvUKKemiycqXimNj2HfC")
	f.Add("", "", "", "", "", "", "")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, sid, suite, sessionPub, identityPub, quote, platform, peerID string) {
		resp := api.CreateKeypairResponse{SessionID: sid, Suite: suite, SessionPubkey: sessionPub, IdentityPubkey: identityPub,
			Quote: quote, Platform: platform, PeerID: peerID}
		got, err := g.c.verifySession(ctx, g.key, g.nonce, &resp)
		if err != nil {
			return
		}
		if !strings.EqualFold(sessionPub, s.SessionPubkey) || !strings.EqualFold(identityPub, s.IdentityPubkey) || !strings.EqualFold(quote, s.Quote) {
			t.Fatalf("accepted a session the genuine node did not open: %+v", resp)
		}
		if got.PeerID != s.PeerID {
			t.Fatalf("accepted peer id %q for identity of %q", got.PeerID, s.PeerID)
		}
	})
}

// FuzzOpenResult feeds the client a hostile node's answer to an execution
// on a genuine session: any sealed-result plaintext (sealed to the
// client's key, which a node can always do) and any commitment and
// signature. It never panics, and it accepts only the result the genuine
// enclave committed to and signed: same output, exit code, fuel, module.
func FuzzOpenResult(f *testing.F) {
	g := newGenuine(f)
	f.Add(g.plain, g.result.ResultCommitment, g.result.Signature, "")
	f.Add(g.plain, g.result.ResultCommitment, g.result.Signature, "00")
	f.Add(bytes.Replace(g.plain, []byte(`"exit_code":0`), []byte(`"exit_code":1`), 1), g.result.ResultCommitment, g.result.Signature, "")
	f.Add([]byte(`{"output":"","salt":"00","module_sha256":"00"}`), g.result.ResultCommitment, g.result.Signature, "")
	f.Add([]byte(`null`), "", "", "zz")
	pub, err := seal.ParsePublicKey(g.key.Suite(), g.key.PublicKey().Bytes())
	if err != nil {
		f.Fatal(err)
	}
	var want enclave.ResultPayload
	if err := json.Unmarshal(g.plain, &want); err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, plain []byte, commitment, sig, quote string) {
		sealed, err := seal.Seal(pub, []byte(enclave.InfoResult), enclave.MessageAAD(g.s.ID, g.rid), plain)
		if err != nil {
			t.Fatal(err)
		}
		resp := g.result
		resp.EncryptedResult, resp.ResultCommitment, resp.Signature, resp.ResultQuote = hex.EncodeToString(sealed), commitment, sig, quote
		r, err := g.c.OpenResult(ctx, g.s, g.rid, g.in, &resp)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Output, want.Output) || r.ExitCode != want.ExitCode || r.Fuel != want.Fuel ||
			!bytes.Equal(r.ModuleHash[:], want.ModuleHash) || !strings.EqualFold(commitment, g.result.ResultCommitment) {
			t.Fatalf("accepted a result the enclave did not sign: %+v", r)
		}
	})
}
