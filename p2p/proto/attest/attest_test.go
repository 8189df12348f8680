package attest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/p2p"
	"github.com/agentnet/agentnode/p2p/p2ptest"
	attestproto "github.com/agentnet/agentnode/p2p/proto/attest"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestOpen(t *testing.T) {
	server, client, other := p2ptest.Trio(t)
	var gotRemote peer.ID
	op := attestproto.OpenerFunc(func(ctx context.Context, remote peer.ID, req []byte) ([]byte, error) {
		gotRemote = remote
		var in struct {
			ClientPubkey string `json:"client_pubkey"`
		}
		if err := json.Unmarshal(req, &in); err != nil || in.ClientPubkey == "" {
			return nil, &attestproto.Error{Status: 400, Code: "bad_request", Message: "client_pubkey is required"}
		}
		if in.ClientPubkey == "boom" {
			return nil, errors.New("enclave on fire: secret detail")
		}
		if in.ClientPubkey == "notjson" {
			return []byte("nope"), nil
		}
		return json.Marshal(map[string]string{"session_id": "00ff", "echo": in.ClientPubkey})
	})
	svc := attestproto.New(server, op, p2p.WithTimeout(500*time.Millisecond))
	t.Cleanup(func() { _ = svc.Close() })
	ctx := context.Background()

	body, err := attestproto.Open(ctx, client, server.ID(), []byte(`{"client_pubkey":"abcd","nonce":"00"}`))
	if err != nil || !strings.Contains(string(body), `"echo":"abcd"`) {
		t.Fatalf("open: %s %v", body, err)
	}
	if gotRemote != client.ID() {
		t.Fatalf("opener saw remote %s, want %s", gotRemote, client.ID())
	}
	var refusal *attestproto.Error
	if _, err := attestproto.Open(ctx, client, server.ID(), []byte(`{}`)); !errors.As(err, &refusal) || refusal.Status != 400 || refusal.Code != "bad_request" {
		t.Fatalf("refusal: %v", err)
	}
	_, err = attestproto.Open(ctx, client, server.ID(), []byte(`{"client_pubkey":"boom"}`))
	if !errors.As(err, &refusal) || refusal.Status != 500 || strings.Contains(err.Error(), "secret") {
		t.Fatalf("internal error: %v", err)
	}
	if _, err := attestproto.Open(ctx, client, server.ID(), []byte(`{"client_pubkey":"notjson"}`)); !errors.As(err, &refusal) || refusal.Status != 500 {
		t.Fatalf("opener garbage: %v", err)
	}
	if _, err := attestproto.Open(ctx, client, server.ID(), []byte(`[1]`)); err == nil {
		t.Fatal("client sent a non-object")
	}

	p2ptest.Misbehave(t, client, server.ID(), attestproto.ID, attestproto.MaxRequestSize, 500*time.Millisecond, func() error {
		_, err := attestproto.Open(ctx, other, server.ID(), []byte(`{"client_pubkey":"x"}`))
		return err
	})
}
