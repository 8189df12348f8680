package enclave_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/enclavetest"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

// FuzzOpenRequest feeds the enclave the plaintext of a sealed request
// from a client that holds a real session: whatever it decrypts to, the
// enclave never panics, refuses with one of its sentinel errors, and
// leaves the request id unused (the same request can be sent again and
// still runs once).
func FuzzOpenRequest(f *testing.F) {
	ctx := context.Background()
	enc, _ := enclavetest.New(f, nil)
	client, err := seal.GenerateKey(seal.X25519)
	if err != nil {
		f.Fatal(err)
	}
	info, err := enc.CreateSession(ctx, enclave.SessionParams{Suite: seal.X25519, ClientPub: client.PublicKey().Bytes()})
	if err != nil {
		f.Fatal(err)
	}
	pub, err := seal.ParsePublicKey(info.Suite, info.SessionPub)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []enclave.ExecPayload{
		{Wasm: wasmtest.EchoArgs, Args: []string{"a", "b"}, Stdin: []byte("in")},
		{Agent: "echo", Args: []string{"x"}},
		{Script: "def main(args):\n    return args\n", Args: []string{"1"}},
		{Script: "def main(args): return 1", Stdin: []byte("x")},
		{Wasm: wasmtest.Truncated},
		{Wasm: wasmtest.EchoArgs, Agent: "echo"},
		{Wasm: wasmtest.EchoArgs, Args: []string{"nul\x00"}},
	} {
		b, _ := json.Marshal(p)
		f.Add(b)
	}
	f.Add([]byte(`{"wasm":"AGFzbQEAAAA=","unknown":1}`))
	f.Add([]byte(`{"wasm":"AGFzbQEAAAA="} {}`))
	f.Add([]byte(`{"args":"not a list"}`))
	f.Add([]byte(``))
	var rid enclave.ID
	f.Fuzz(func(t *testing.T, plaintext []byte) {
		sealed, err := seal.Seal(pub, []byte(enclave.InfoExec), enclave.MessageAAD(info.ID, rid), plaintext)
		if err != nil {
			t.Fatal(err)
		}
		job, err := enc.OpenRequest(ctx, info.ID, rid, sealed)
		if err != nil {
			for _, want := range []error{enclave.ErrBadRequest, enclave.ErrUnknownAgent, wasm.ErrInvalidModule, wasm.ErrModuleTooLarge} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("refusal without a sentinel: %v", err)
		}
		switch job.Kind() {
		case enclave.KindWasm, enclave.KindScript:
		default:
			t.Fatalf("opened a job of kind %q", job.Kind())
		}
		if job.RequestID() != rid || job.SessionID() != info.ID {
			t.Fatal("job of another request")
		}
		// Opening changed nothing: the same request opens again.
		if _, err := enc.OpenRequest(ctx, info.ID, rid, sealed); err != nil {
			t.Fatalf("second open: %v", err)
		}
	})
}

// FuzzLoadIdentity feeds the identity key loader any file content: it
// never panics, refuses everything but an Ed25519 libp2p private key, and
// never replaces the file it could not read.
func FuzzLoadIdentity(f *testing.F) {
	id, err := enclave.GenerateIdentity()
	if err != nil {
		f.Fatal(err)
	}
	good, _ := crypto.MarshalPrivateKey(id.PrivKey())
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01, 0x12, 0x00})
	ec, _, _ := crypto.GenerateECDSAKeyPair(rand.Reader)
	other, _ := crypto.MarshalPrivateKey(ec)
	f.Add(other)
	path := filepath.Join(f.TempDir(), "identity.key")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := enclave.LoadOrCreateIdentity(path)
		after, rerr := os.ReadFile(path)
		if rerr != nil || string(after) != string(b) {
			t.Fatal("the loader changed the key file")
		}
		if err != nil {
			return
		}
		if got.PrivKey().Type() != crypto.Ed25519 {
			t.Fatalf("loaded a %s key", got.PrivKey().Type())
		}
		again, err := enclave.LoadOrCreateIdentity(path)
		if err != nil || again.PeerID() != got.PeerID() {
			t.Fatalf("reload: %v", err)
		}
	})
}
