package bridge

import (
	"context"
	"encoding/hex"
	"net/http"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/node/api"
)

// handleCreateKeypair opens a session, the HTTP face of openSession.
func (s *Server) handleCreateKeypair(verifiable bool) func(http.ResponseWriter, *http.Request) error {
	open := s.openSession(verifiable)
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := s.readBody(w, r)
		if err != nil {
			return err
		}
		rep, err := open(r.Context(), Call{Header: r.Header, Body: body, Resource: r.URL.Path})
		if err != nil {
			return err
		}
		rep.write(w)
		return nil
	}
}

// openSession opens a session. The verifiable route attests it: the
// evidence binds the identity key, the new session key, the client's key
// and nonce (DESIGN.md 2.1). It is the one code path of the HTTP routes and
// of the p2p attest stream ([Server.OpenSession]).
func (s *Server) openSession(verifiable bool) func(context.Context, Call) (*Reply, error) {
	return func(ctx context.Context, call Call) (*Reply, error) {
		var req api.CreateKeypairRequest
		if err := s.decodeJSON(call.Body, &req); err != nil {
			return nil, err
		}
		pub, err := decodeHex("pubkey", req.Pubkey)
		if err != nil {
			return nil, err
		}
		nonce, err := decodeHex("nonce", req.Nonce)
		if err != nil {
			return nil, err
		}
		info, err := s.enc.CreateSession(ctx, enclave.SessionParams{
			Suite:     seal.Suite(req.Suite),
			ClientPub: pub,
			Nonce:     nonce,
			Attest:    verifiable,
		})
		if err != nil {
			return nil, err
		}
		resp := api.CreateKeypairResponse{
			SessionID:      info.ID.String(),
			SessionPubkey:  hex.EncodeToString(info.SessionPub),
			IdentityPubkey: hex.EncodeToString(info.IdentityPub),
			PeerID:         info.PeerID,
			Suite:          string(info.Suite),
			Platform:       string(info.Platform),
			ExpiresAt:      info.ExpiresAt.UTC(),
		}
		if info.Evidence != nil {
			resp.Quote = hex.EncodeToString(info.Evidence.Quote)
		}
		s.metrics.sessions.Inc()
		return jsonReply(http.StatusOK, resp), nil
	}
}
