package facilitator

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/agentnet/agentnode/x402"
)

// NewHandler serves f over HTTP as the x402 facilitator API:
//
//	POST /verify     {x402Version, paymentPayload, paymentRequirements} -> VerifyResponse
//	POST /settle     same body                                          -> SettleResponse
//	GET  /supported                                                     -> SupportedResponse
//
// Business failures answer 200 with isValid/success false, as the SDK
// clients expect; a malformed body answers 400 and an internal failure 500,
// both with a body of the same shape so SDK clients can read the reason.
// v1 bodies are accepted and answered with v1 network names. Mount it under
// a prefix with http.StripPrefix (the bridge uses /facilitator). A nil
// logger discards.
func NewHandler(f Facilitator, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{f: f, log: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /verify", h.verify)
	mux.HandleFunc("POST /settle", h.settle)
	mux.HandleFunc("GET /supported", h.supportedKinds)
	return mux
}

type handler struct {
	f   Facilitator
	log *slog.Logger
}

func (h *handler) verify(w http.ResponseWriter, r *http.Request) {
	req, err := readRequest(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, x402.VerifyResponse{IsValid: false, InvalidReason: badRequestReason(err), InvalidMessage: err.Error()})
		return
	}
	resp, err := h.f.Verify(r.Context(), req.PaymentPayload, req.PaymentRequirements)
	if err != nil {
		h.log.Warn("facilitator verify", "err", err)
		writeJSON(w, http.StatusInternalServerError, x402.VerifyResponse{IsValid: false, InvalidReason: x402.ReasonUnexpectedVerifyError, InvalidMessage: "verification could not be completed"})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *handler) settle(w http.ResponseWriter, r *http.Request) {
	req, err := readRequest(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, x402.SettleResponse{Success: false, ErrorReason: badRequestReason(err), ErrorMessage: err.Error(), Transaction: "", Network: ""})
		return
	}
	resp, err := h.f.Settle(r.Context(), req.PaymentPayload, req.PaymentRequirements)
	if err != nil {
		h.log.Warn("facilitator settle", "err", err)
		writeJSON(w, http.StatusInternalServerError, x402.SettleResponse{Success: false, ErrorReason: x402.ReasonUnexpectedSettleError, ErrorMessage: "settlement could not be completed", Network: networkFor(req)})
		return
	}
	if resp.Success || resp.Pending() {
		h.log.Info("facilitator settled", "tx", resp.Transaction, "payer", resp.Payer, "success", resp.Success)
	}
	if req.X402Version == x402.VersionV1 {
		if v1, ok := resp.Network.V1Name(); ok {
			resp.Network = x402.Network(v1)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *handler) supportedKinds(w http.ResponseWriter, r *http.Request) {
	resp, err := h.f.Supported(r.Context())
	if err != nil {
		h.log.Warn("facilitator supported", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "supported kinds unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// readRequest reads a size-capped body and decodes it (v1 or v2).
func readRequest(w http.ResponseWriter, r *http.Request) (x402.FacilitatorRequest, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, x402.MaxBodySize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return x402.FacilitatorRequest{}, x402.ErrTooLarge
		}
		return x402.FacilitatorRequest{}, err
	}
	return x402.DecodeFacilitatorRequest(body)
}

func badRequestReason(err error) string {
	if errors.Is(err, x402.ErrVersion) {
		return x402.ReasonInvalidX402Version
	}
	return x402.ReasonInvalidPayload
}

func networkFor(req x402.FacilitatorRequest) x402.Network {
	n := req.PaymentRequirements.Network
	if req.X402Version == x402.VersionV1 {
		if v1, ok := n.V1Name(); ok {
			return x402.Network(v1)
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
