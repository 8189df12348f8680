// Package x402 holds the wire format of the x402 payment protocol: the v2
// objects (PaymentRequired, PaymentRequirements, PaymentPayload,
// VerifyResponse, SettleResponse, SupportedResponse), their v1 legacy
// forms, the base64-JSON header codecs, CAIP-2 network names and the error
// reasons the official SDKs emit.
//
// The package is a pure codec: it performs no I/O, never logs, and every
// decoder enforces a size cap, so a bridge can decode an untrusted header
// before spending any work on it. Scheme logic (EIP-712 signing, on-chain
// verification, settlement) lives in x402/evm; the facilitator API in
// x402/facilitator.
package x402

import (
	"encoding/json"
	"strings"
)

// Protocol versions. Version is what this package produces; VersionV1 is the
// legacy format still accepted from older clients and facilitators.
const (
	Version   = 2
	VersionV1 = 1
)

// SchemeExact is the only payment scheme implemented here: the payer signs
// an authorization for exactly the required amount (EIP-3009 on EVM).
const SchemeExact = "exact"

// Header names. Go canonicalizes them (Payment-Signature), and HTTP header
// names are case-insensitive, so these work with http.Header.Get and Set.
const (
	HeaderPaymentRequired   = "PAYMENT-REQUIRED"
	HeaderPaymentSignature  = "PAYMENT-SIGNATURE"
	HeaderPaymentResponse   = "PAYMENT-RESPONSE"
	HeaderPaymentV1         = "X-PAYMENT"
	HeaderPaymentResponseV1 = "X-PAYMENT-RESPONSE"
)

// Size caps. A v2 PAYMENT-SIGNATURE for the EVM exact scheme is about 1.1 KB,
// a PAYMENT-REQUIRED with a few entries a few KB; the caps leave room for
// extensions while bounding the work an untrusted peer can cause.
const (
	// MaxHeaderSize caps every base64 header value this package decodes.
	MaxHeaderSize = 32 << 10
	// MaxBodySize caps every JSON body this package decodes (402 bodies,
	// facilitator requests and replies).
	MaxBodySize = 64 << 10
)

// ResourceInfo describes the paid resource in a v2 PaymentRequired and,
// optionally, in the PaymentPayload that pays for it.
type ResourceInfo struct {
	URL         string   `json:"url"`
	Description string   `json:"description,omitempty"`
	MimeType    string   `json:"mimeType,omitempty"`
	ServiceName string   `json:"serviceName,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	IconURL     string   `json:"iconUrl,omitempty"`
}

// PaymentRequirements is one way to pay that a server accepts. Amount is a
// decimal string of atomic token units; Asset and PayTo are 0x addresses.
// For the EVM exact scheme Extra carries the EIP-712 domain {name, version};
// unknown Extra keys are kept so that a client can echo the entry verbatim
// (the TypeScript server compares the echo by deep equality).
type PaymentRequirements struct {
	Scheme            string         `json:"scheme"`
	Network           Network        `json:"network"`
	Amount            string         `json:"amount"`
	Asset             string         `json:"asset"`
	PayTo             string         `json:"payTo"`
	MaxTimeoutSeconds int64          `json:"maxTimeoutSeconds"`
	Extra             map[string]any `json:"extra,omitempty"`
}

// PaymentRequired is the v2 402 answer, carried base64-encoded in the
// PAYMENT-REQUIRED header.
type PaymentRequired struct {
	X402Version int                        `json:"x402Version"`
	Error       string                     `json:"error,omitempty"`
	Resource    ResourceInfo               `json:"resource"`
	Accepts     []PaymentRequirements      `json:"accepts"`
	Extensions  map[string]json.RawMessage `json:"extensions,omitempty"`
}

// PaymentPayload is the client's payment, carried base64-encoded in the
// PAYMENT-SIGNATURE header. Accepted echoes the chosen requirements entry;
// Payload is scheme specific (see ExactEVMPayload).
type PaymentPayload struct {
	X402Version int                        `json:"x402Version"`
	Resource    *ResourceInfo              `json:"resource,omitempty"`
	Accepted    PaymentRequirements        `json:"accepted"`
	Payload     json.RawMessage            `json:"payload"`
	Extensions  map[string]json.RawMessage `json:"extensions,omitempty"`
}

// ExactEVMPayload is the Payload of the exact scheme on EVM: an EIP-3009
// TransferWithAuthorization and its 65-byte signature (0x hex, r||s||v).
type ExactEVMPayload struct {
	Signature     string        `json:"signature"`
	Authorization Authorization `json:"authorization"`
}

// Authorization is the EIP-3009 message, with every field a string as on the
// wire: addresses in 0x hex, amounts and times in decimal, nonce as 0x plus
// 64 hex digits.
type Authorization struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Value       string `json:"value"`
	ValidAfter  string `json:"validAfter"`
	ValidBefore string `json:"validBefore"`
	Nonce       string `json:"nonce"`
}

// VerifyResponse is a facilitator's answer to /verify. A failed check is a
// normal answer with IsValid false and a reason, not a transport error.
type VerifyResponse struct {
	IsValid        bool                       `json:"isValid"`
	InvalidReason  string                     `json:"invalidReason,omitempty"`
	InvalidMessage string                     `json:"invalidMessage,omitempty"`
	Payer          string                     `json:"payer,omitempty"`
	Extensions     map[string]json.RawMessage `json:"extensions,omitempty"`
}

// SettleResponse is a facilitator's answer to /settle and the content of the
// PAYMENT-RESPONSE header. Transaction is empty on failure, except with
// ErrorReason ReasonSettlementPending, where it names the broadcast
// transaction whose receipt did not arrive in time.
type SettleResponse struct {
	Success      bool                       `json:"success"`
	ErrorReason  string                     `json:"errorReason,omitempty"`
	ErrorMessage string                     `json:"errorMessage,omitempty"`
	Payer        string                     `json:"payer,omitempty"`
	Transaction  string                     `json:"transaction"`
	Network      Network                    `json:"network"`
	Amount       string                     `json:"amount,omitempty"`
	Extensions   map[string]json.RawMessage `json:"extensions,omitempty"`
}

// Pending reports whether the settlement was broadcast but not yet
// confirmed: a non-terminal outcome to reconcile later, not a failure.
func (r SettleResponse) Pending() bool {
	return !r.Success && r.ErrorReason == ReasonSettlementPending && r.Transaction != ""
}

// SupportedKind is one (version, scheme, network) a facilitator handles.
type SupportedKind struct {
	X402Version int            `json:"x402Version"`
	Scheme      string         `json:"scheme"`
	Network     Network        `json:"network"`
	Extra       map[string]any `json:"extra,omitempty"`
}

// SupportedResponse is a facilitator's answer to GET /supported. Signers maps
// a CAIP-2 family pattern such as "eip155:*" to the addresses that pay gas.
type SupportedResponse struct {
	Kinds      []SupportedKind     `json:"kinds"`
	Extensions []string            `json:"extensions,omitempty"`
	Signers    map[string][]string `json:"signers,omitempty"`
}

// FacilitatorRequest is the body of POST /verify and POST /settle:
// {x402Version, paymentPayload, paymentRequirements}. The requirements are
// the server's own entry, not the client's echo.
type FacilitatorRequest struct {
	X402Version         int                 `json:"x402Version"`
	PaymentPayload      PaymentPayload      `json:"paymentPayload"`
	PaymentRequirements PaymentRequirements `json:"paymentRequirements"`
}

// ExtraString returns the string value of an Extra key, or "" when it is
// absent or not a string.
func (r PaymentRequirements) ExtraString(key string) string {
	s, _ := r.Extra[key].(string)
	return s
}

// Matches reports whether a client's echoed entry pays for r. It compares
// what binds the payment (scheme, network, amount, asset, recipient; and
// the EIP-712 domain when r names one) and ignores other fields, so that
// SDKs that rewrite Extra or timeouts still match. Addresses compare
// case-insensitively.
func (r PaymentRequirements) Matches(accepted PaymentRequirements) bool {
	if r.Scheme != accepted.Scheme || r.Network != accepted.Network || r.Amount != accepted.Amount {
		return false
	}
	if !strings.EqualFold(r.Asset, accepted.Asset) || !strings.EqualFold(r.PayTo, accepted.PayTo) {
		return false
	}
	for _, k := range []string{"name", "version"} {
		if want := r.ExtraString(k); want != "" && accepted.ExtraString(k) != want {
			return false
		}
	}
	return true
}

// FindRequirements returns the entry of accepts that accepted pays for.
func FindRequirements(accepts []PaymentRequirements, accepted PaymentRequirements) (PaymentRequirements, bool) {
	for _, r := range accepts {
		if r.Matches(accepted) {
			return r, true
		}
	}
	return PaymentRequirements{}, false
}
