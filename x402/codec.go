package x402

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// EncodeHeader returns base64(JSON(v)) with the standard alphabet and
// padding, the encoding of every x402 header.
func EncodeHeader(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode header: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// decodeHeader decodes a base64-JSON header value into v. The standard
// alphabet with padding is what the SDKs send; unpadded and URL-safe forms
// are accepted too, since they cannot be confused with each other.
func decodeHeader(s string, v any) error {
	if len(s) > MaxHeaderSize {
		return fmt.Errorf("decode header (%d bytes): %w", len(s), ErrTooLarge)
	}
	s = trimSpace(s)
	if s == "" {
		return fmt.Errorf("decode header: empty: %w", ErrMalformed)
	}
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("decode header: base64: %w", ErrMalformed)
	}
	return decodeJSON(raw, v)
}

// decodeJSON decodes exactly one JSON value into v, keeping numbers inside
// free-form maps as json.Number so that they re-encode unchanged.
func decodeJSON(data []byte, v any) error {
	if len(data) > MaxBodySize {
		return fmt.Errorf("decode json (%d bytes): %w", len(data), ErrTooLarge)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode json: %v: %w", err, ErrMalformed)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("decode json: trailing data: %w", ErrMalformed)
	}
	return nil
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// EncodePaymentRequired encodes the PAYMENT-REQUIRED header.
func EncodePaymentRequired(p PaymentRequired) (string, error) { return EncodeHeader(p) }

// DecodePaymentRequired decodes a PAYMENT-REQUIRED header (v2).
func DecodePaymentRequired(s string) (PaymentRequired, error) {
	var p PaymentRequired
	if err := decodeHeader(s, &p); err != nil {
		return PaymentRequired{}, fmt.Errorf("decode PAYMENT-REQUIRED: %w", err)
	}
	if err := p.Validate(); err != nil {
		return PaymentRequired{}, fmt.Errorf("decode PAYMENT-REQUIRED: %w", err)
	}
	return p, nil
}

// EncodePaymentPayload encodes the PAYMENT-SIGNATURE header.
func EncodePaymentPayload(p PaymentPayload) (string, error) { return EncodeHeader(p) }

// DecodePaymentPayload decodes a PAYMENT-SIGNATURE header (v2).
func DecodePaymentPayload(s string) (PaymentPayload, error) {
	var p PaymentPayload
	if err := decodeHeader(s, &p); err != nil {
		return PaymentPayload{}, fmt.Errorf("decode PAYMENT-SIGNATURE: %w", err)
	}
	if err := p.Validate(); err != nil {
		return PaymentPayload{}, fmt.Errorf("decode PAYMENT-SIGNATURE: %w", err)
	}
	return p, nil
}

// EncodeSettleResponse encodes the PAYMENT-RESPONSE (or X-PAYMENT-RESPONSE)
// header.
func EncodeSettleResponse(r SettleResponse) (string, error) { return EncodeHeader(r) }

// DecodeSettleResponse decodes a PAYMENT-RESPONSE or X-PAYMENT-RESPONSE
// header. v1 responses carry a v1 network name, which is translated.
func DecodeSettleResponse(s string) (SettleResponse, error) {
	var r SettleResponse
	if err := decodeHeader(s, &r); err != nil {
		return SettleResponse{}, fmt.Errorf("decode PAYMENT-RESPONSE: %w", err)
	}
	if r.Network != "" {
		n, err := ParseNetwork(string(r.Network))
		if err != nil {
			return SettleResponse{}, fmt.Errorf("decode PAYMENT-RESPONSE: %w", err)
		}
		r.Network = n
	}
	return r, nil
}

// Validate checks the fields every v2 PaymentRequired must have.
func (p PaymentRequired) Validate() error {
	if p.X402Version != Version {
		return fmt.Errorf("payment required: version %d: %w", p.X402Version, ErrVersion)
	}
	for i, r := range p.Accepts {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("accepts[%d]: %w", i, err)
		}
	}
	return nil
}

// Validate checks that r names a scheme, a CAIP-2 network, a decimal
// amount, an asset, a recipient and a positive timeout. It does not judge
// whether the scheme or network is supported.
func (r PaymentRequirements) Validate() error {
	switch {
	case r.Scheme == "":
		return fmt.Errorf("requirements: no scheme: %w", ErrMalformed)
	case r.Asset == "" || len(r.Asset) > 128:
		return fmt.Errorf("requirements: bad asset: %w", ErrMalformed)
	case r.PayTo == "" || len(r.PayTo) > 128:
		return fmt.Errorf("requirements: bad payTo: %w", ErrMalformed)
	case r.MaxTimeoutSeconds < 0:
		return fmt.Errorf("requirements: negative maxTimeoutSeconds: %w", ErrMalformed)
	case !isDecimal(r.Amount):
		return fmt.Errorf("requirements: amount %q is not a decimal integer: %w", truncate(r.Amount), ErrMalformed)
	}
	if _, err := ParseNetwork(string(r.Network)); err != nil {
		return fmt.Errorf("requirements: %w", err)
	}
	return nil
}

// Validate checks the fields every v2 PaymentPayload must have.
func (p PaymentPayload) Validate() error {
	if p.X402Version != Version {
		return fmt.Errorf("payment payload: version %d: %w", p.X402Version, ErrVersion)
	}
	if err := p.Accepted.Validate(); err != nil {
		return fmt.Errorf("payment payload: accepted: %w", err)
	}
	if !isJSONObject(p.Payload) {
		return fmt.Errorf("payment payload: payload is not an object: %w", ErrMalformed)
	}
	return nil
}

// ExactEVM decodes the scheme payload of an exact-scheme EVM payment.
func (p PaymentPayload) ExactEVM() (ExactEVMPayload, error) {
	var e ExactEVMPayload
	if !isJSONObject(p.Payload) {
		return e, fmt.Errorf("decode exact evm payload: not an object: %w", ErrMalformed)
	}
	if err := decodeJSON(p.Payload, &e); err != nil {
		return e, fmt.Errorf("decode exact evm payload: %w", err)
	}
	return e, nil
}

// NewExactEVMPayload encodes e as the scheme payload of a PaymentPayload.
func NewExactEVMPayload(e ExactEVMPayload) (json.RawMessage, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode exact evm payload: %w", err)
	}
	return b, nil
}

func isJSONObject(b json.RawMessage) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// isDecimal reports whether s is a non-negative decimal integer without
// sign, leading zeros (other than "0") or more than 78 digits (uint256).
func isDecimal(s string) bool {
	if s == "" || len(s) > 78 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
