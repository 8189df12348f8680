package bridge

import (
	"encoding/hex"
	"net/http"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/node/api"
)

// handleCreateKeypair opens a session. The verifiable route attests it:
// the evidence binds the identity key, the new session key, the client's
// key and nonce (DESIGN.md 2.1).
func (s *Server) handleCreateKeypair(verifiable bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req api.CreateKeypairRequest
		if err := s.decodeBody(w, r, &req); err != nil {
			return err
		}
		pub, err := decodeHex("pubkey", req.Pubkey)
		if err != nil {
			return err
		}
		nonce, err := decodeHex("nonce", req.Nonce)
		if err != nil {
			return err
		}
		info, err := s.enc.CreateSession(r.Context(), enclave.SessionParams{
			Suite:     seal.Suite(req.Suite),
			ClientPub: pub,
			Nonce:     nonce,
			Attest:    verifiable,
		})
		if err != nil {
			return err
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
		writeJSON(w, http.StatusOK, resp)
		return nil
	}
}
