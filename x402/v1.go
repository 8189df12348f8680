package x402

import (
	"encoding/json"
	"fmt"
)

// DefaultV1Error is the error text of a v1 402 body when none is given; the
// v1 SDKs send exactly this.
const DefaultV1Error = "X-PAYMENT header is required"

// PaymentRequirementsV1 is a v1 requirements entry: the resource fields sit
// in every entry, the amount is maxAmountRequired (paid exactly by current
// SDKs) and the network is a v1 name such as "base-sepolia".
type PaymentRequirementsV1 struct {
	Scheme            string          `json:"scheme"`
	Network           string          `json:"network"`
	MaxAmountRequired string          `json:"maxAmountRequired"`
	Resource          string          `json:"resource"`
	Description       string          `json:"description"`
	MimeType          string          `json:"mimeType"`
	OutputSchema      json.RawMessage `json:"outputSchema"`
	PayTo             string          `json:"payTo"`
	MaxTimeoutSeconds int64           `json:"maxTimeoutSeconds"`
	Asset             string          `json:"asset"`
	Extra             map[string]any  `json:"extra,omitempty"`
}

// PaymentRequiredV1 is the v1 402 JSON body {x402Version:1, error, accepts}.
type PaymentRequiredV1 struct {
	X402Version int                     `json:"x402Version"`
	Error       string                  `json:"error"`
	Accepts     []PaymentRequirementsV1 `json:"accepts"`
}

// PaymentPayloadV1 is the content of the v1 X-PAYMENT header.
type PaymentPayloadV1 struct {
	X402Version int             `json:"x402Version"`
	Scheme      string          `json:"scheme"`
	Network     string          `json:"network"`
	Payload     json.RawMessage `json:"payload"`
}

// V1 converts a v2 entry to v1. It reports false when the network has no v1
// name, since a v1 client could not pay there.
func (r PaymentRequirements) V1(resource ResourceInfo) (PaymentRequirementsV1, bool) {
	name, ok := r.Network.V1Name()
	if !ok {
		return PaymentRequirementsV1{}, false
	}
	return PaymentRequirementsV1{
		Scheme:            r.Scheme,
		Network:           name,
		MaxAmountRequired: r.Amount,
		Resource:          resource.URL,
		Description:       resource.Description,
		MimeType:          resource.MimeType,
		PayTo:             r.PayTo,
		MaxTimeoutSeconds: r.MaxTimeoutSeconds,
		Asset:             r.Asset,
		Extra:             r.Extra,
	}, true
}

// V2 converts a v1 entry to v2 and returns the resource it described.
func (r PaymentRequirementsV1) V2() (PaymentRequirements, ResourceInfo, error) {
	n, err := ParseNetwork(r.Network)
	if err != nil {
		return PaymentRequirements{}, ResourceInfo{}, fmt.Errorf("convert v1 requirements: %w", err)
	}
	out := PaymentRequirements{
		Scheme:            r.Scheme,
		Network:           n,
		Amount:            r.MaxAmountRequired,
		Asset:             r.Asset,
		PayTo:             r.PayTo,
		MaxTimeoutSeconds: r.MaxTimeoutSeconds,
		Extra:             r.Extra,
	}
	if err := out.Validate(); err != nil {
		return PaymentRequirements{}, ResourceInfo{}, fmt.Errorf("convert v1 requirements: %w", err)
	}
	return out, ResourceInfo{URL: r.Resource, Description: r.Description, MimeType: r.MimeType}, nil
}

// V1 returns the v1 402 body for p: the entries a v1 client can pay. A
// server may send it as the body of the same 402 whose PAYMENT-REQUIRED
// header serves v2 clients.
func (p PaymentRequired) V1() PaymentRequiredV1 {
	out := PaymentRequiredV1{X402Version: VersionV1, Error: p.Error, Accepts: []PaymentRequirementsV1{}}
	if out.Error == "" {
		out.Error = DefaultV1Error
	}
	for _, r := range p.Accepts {
		if v1, ok := r.V1(p.Resource); ok {
			out.Accepts = append(out.Accepts, v1)
		}
	}
	return out
}

// DecodePaymentRequiredV1 decodes a v1 402 JSON body.
func DecodePaymentRequiredV1(body []byte) (PaymentRequiredV1, error) {
	var p PaymentRequiredV1
	if err := decodeJSON(body, &p); err != nil {
		return PaymentRequiredV1{}, fmt.Errorf("decode v1 402 body: %w", err)
	}
	if p.X402Version != VersionV1 {
		return PaymentRequiredV1{}, fmt.Errorf("decode v1 402 body: version %d: %w", p.X402Version, ErrVersion)
	}
	return p, nil
}

// EncodePaymentPayloadV1 encodes the X-PAYMENT header.
func EncodePaymentPayloadV1(p PaymentPayloadV1) (string, error) { return EncodeHeader(p) }

// DecodePaymentPayloadV1 decodes an X-PAYMENT header.
func DecodePaymentPayloadV1(s string) (PaymentPayloadV1, error) {
	var p PaymentPayloadV1
	if err := decodeHeader(s, &p); err != nil {
		return PaymentPayloadV1{}, fmt.Errorf("decode X-PAYMENT: %w", err)
	}
	if err := p.Validate(); err != nil {
		return PaymentPayloadV1{}, fmt.Errorf("decode X-PAYMENT: %w", err)
	}
	return p, nil
}

// Validate checks the fields every v1 payload must have.
func (p PaymentPayloadV1) Validate() error {
	if p.X402Version != VersionV1 {
		return fmt.Errorf("v1 payload: version %d: %w", p.X402Version, ErrVersion)
	}
	if p.Scheme == "" {
		return fmt.Errorf("v1 payload: no scheme: %w", ErrMalformed)
	}
	if _, err := ParseNetwork(p.Network); err != nil {
		return fmt.Errorf("v1 payload: %w", err)
	}
	if !isJSONObject(p.Payload) {
		return fmt.Errorf("v1 payload: payload is not an object: %w", ErrMalformed)
	}
	return nil
}

// V2 converts a v1 payload to the v2 form, taking Accepted from the entry
// of accepts with the same scheme and network. It returns ErrNoMatch when
// there is none.
func (p PaymentPayloadV1) V2(accepts []PaymentRequirements) (PaymentPayload, error) {
	n, err := ParseNetwork(p.Network)
	if err != nil {
		return PaymentPayload{}, fmt.Errorf("convert v1 payload: %w", err)
	}
	for _, r := range accepts {
		if r.Scheme == p.Scheme && r.Network == n {
			return PaymentPayload{X402Version: Version, Accepted: r, Payload: p.Payload}, nil
		}
	}
	return PaymentPayload{}, fmt.Errorf("convert v1 payload (%s on %s): %w", truncate(p.Scheme), n, ErrNoMatch)
}

// V1 converts a v2 payload to the X-PAYMENT form. It reports false when the
// network has no v1 name.
func (p PaymentPayload) V1() (PaymentPayloadV1, bool) {
	name, ok := p.Accepted.Network.V1Name()
	if !ok {
		return PaymentPayloadV1{}, false
	}
	return PaymentPayloadV1{X402Version: VersionV1, Scheme: p.Accepted.Scheme, Network: name, Payload: p.Payload}, true
}
