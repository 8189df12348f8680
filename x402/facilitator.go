package x402

import (
	"encoding/json"
	"fmt"
)

// facilitatorRequestV1 is the v1 body of /verify and /settle.
type facilitatorRequestV1 struct {
	X402Version         int                   `json:"x402Version"`
	PaymentPayload      PaymentPayloadV1      `json:"paymentPayload"`
	PaymentRequirements PaymentRequirementsV1 `json:"paymentRequirements"`
}

// DecodeFacilitatorRequest decodes the body of POST /verify or /settle. A v1
// body is converted to the v2 form; X402Version keeps the version spoken on
// the wire so the answer can use v1 network names.
func DecodeFacilitatorRequest(body []byte) (FacilitatorRequest, error) {
	var head struct {
		X402Version *int `json:"x402Version"`
	}
	if err := decodeJSON(body, &head); err != nil {
		return FacilitatorRequest{}, fmt.Errorf("decode facilitator request: %w", err)
	}
	version := Version
	if head.X402Version != nil {
		version = *head.X402Version
	}
	switch version {
	case Version:
		var r FacilitatorRequest
		if err := decodeJSON(body, &r); err != nil {
			return FacilitatorRequest{}, fmt.Errorf("decode facilitator request: %w", err)
		}
		r.X402Version = Version
		if err := r.PaymentPayload.Validate(); err != nil {
			return FacilitatorRequest{}, fmt.Errorf("decode facilitator request: %w", err)
		}
		if err := r.PaymentRequirements.Validate(); err != nil {
			return FacilitatorRequest{}, fmt.Errorf("decode facilitator request: %w", err)
		}
		return r, nil
	case VersionV1:
		var r facilitatorRequestV1
		if err := decodeJSON(body, &r); err != nil {
			return FacilitatorRequest{}, fmt.Errorf("decode v1 facilitator request: %w", err)
		}
		if err := r.PaymentPayload.Validate(); err != nil {
			return FacilitatorRequest{}, fmt.Errorf("decode v1 facilitator request: %w", err)
		}
		req, resource, err := r.PaymentRequirements.V2()
		if err != nil {
			return FacilitatorRequest{}, fmt.Errorf("decode v1 facilitator request: %w", err)
		}
		// The v1 payload names only scheme and network; the rest of its
		// "accepted" is by definition the entry the server sent along.
		payload, err := r.PaymentPayload.V2([]PaymentRequirements{req})
		if err != nil {
			return FacilitatorRequest{}, fmt.Errorf("decode v1 facilitator request: %w", err)
		}
		if resource.URL != "" {
			payload.Resource = &resource
		}
		return FacilitatorRequest{X402Version: VersionV1, PaymentPayload: payload, PaymentRequirements: req}, nil
	default:
		return FacilitatorRequest{}, fmt.Errorf("decode facilitator request: version %d: %w", version, ErrVersion)
	}
}

// EncodeFacilitatorRequest encodes the body of POST /verify or /settle in
// the version r.X402Version names (v1 bodies use v1 shapes and names).
func EncodeFacilitatorRequest(r FacilitatorRequest) ([]byte, error) {
	if r.X402Version != VersionV1 {
		r.X402Version = Version
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode facilitator request: %w", err)
		}
		return b, nil
	}
	var resource ResourceInfo
	if r.PaymentPayload.Resource != nil {
		resource = *r.PaymentPayload.Resource
	}
	req, ok := r.PaymentRequirements.V1(resource)
	if !ok {
		return nil, fmt.Errorf("encode v1 facilitator request: network %s has no v1 name: %w", r.PaymentRequirements.Network, ErrUnknownNetwork)
	}
	payload, ok := r.PaymentPayload.V1()
	if !ok {
		return nil, fmt.Errorf("encode v1 facilitator request: network %s has no v1 name: %w", r.PaymentPayload.Accepted.Network, ErrUnknownNetwork)
	}
	b, err := json.Marshal(facilitatorRequestV1{X402Version: VersionV1, PaymentPayload: payload, PaymentRequirements: req})
	if err != nil {
		return nil, fmt.Errorf("encode v1 facilitator request: %w", err)
	}
	return b, nil
}

// DecodeVerifyResponse decodes a facilitator's /verify reply. The isValid
// field is required, as the SDK clients require it.
func DecodeVerifyResponse(body []byte) (VerifyResponse, error) {
	var raw struct {
		IsValid *bool `json:"isValid"`
		VerifyResponse
	}
	if err := decodeJSON(body, &raw); err != nil {
		return VerifyResponse{}, fmt.Errorf("decode verify response: %w", err)
	}
	if raw.IsValid == nil {
		return VerifyResponse{}, fmt.Errorf("decode verify response: no isValid: %w", ErrMalformed)
	}
	out := raw.VerifyResponse
	out.IsValid = *raw.IsValid
	return out, nil
}

// DecodeSettleResponseBody decodes a facilitator's /settle reply. The
// success, transaction and network fields are required, as the SDK clients
// require them; a v1 network name is translated to CAIP-2.
func DecodeSettleResponseBody(body []byte) (SettleResponse, error) {
	var raw struct {
		Success     *bool   `json:"success"`
		Transaction *string `json:"transaction"`
		Network     *string `json:"network"`
		SettleResponse
	}
	if err := decodeJSON(body, &raw); err != nil {
		return SettleResponse{}, fmt.Errorf("decode settle response: %w", err)
	}
	if raw.Success == nil || raw.Transaction == nil || raw.Network == nil {
		return SettleResponse{}, fmt.Errorf("decode settle response: missing success, transaction or network: %w", ErrMalformed)
	}
	out := raw.SettleResponse
	out.Success, out.Transaction = *raw.Success, *raw.Transaction
	out.Network = Network(*raw.Network)
	if *raw.Network != "" {
		n, err := ParseNetwork(*raw.Network)
		if err != nil {
			return SettleResponse{}, fmt.Errorf("decode settle response: %w", err)
		}
		out.Network = n
	}
	return out, nil
}

// DecodeSupportedResponse decodes a facilitator's /supported reply.
func DecodeSupportedResponse(body []byte) (SupportedResponse, error) {
	var r SupportedResponse
	if err := decodeJSON(body, &r); err != nil {
		return SupportedResponse{}, fmt.Errorf("decode supported response: %w", err)
	}
	for i, k := range r.Kinds {
		if k.Network == "" {
			continue
		}
		// Unknown networks stay as sent: a facilitator may support chains
		// this package has no name for.
		if n, err := ParseNetwork(string(k.Network)); err == nil {
			r.Kinds[i].Network = n
		}
	}
	return r, nil
}
