package attest

import "errors"

// Sentinel errors. Callers match them with errors.Is; messages wrap them
// with the platform and the detail.
var (
	// ErrUnknownPlatform is returned when a platform name is not one of
	// sim, tdx, snp.
	ErrUnknownPlatform = errors.New("unknown platform")
	// ErrPlatformNotAllowed is returned when the policy does not accept the
	// evidence's platform, such as sim under the default policy.
	ErrPlatformNotAllowed = errors.New("platform not allowed by policy")
	// ErrNoVerifier is returned when no verifier is configured for a platform.
	ErrNoVerifier = errors.New("no verifier for platform")
	// ErrEmptyQuote is returned for evidence without a quote.
	ErrEmptyQuote = errors.New("empty quote")
	// ErrQuoteTooLarge is returned for a quote over MaxQuoteSize.
	ErrQuoteTooLarge = errors.New("quote too large")
	// ErrMalformedQuote is returned when a quote cannot be parsed.
	ErrMalformedQuote = errors.New("malformed quote")
	// ErrBadSignature is returned when a quote's signature or certificate
	// chain does not verify.
	ErrBadSignature = errors.New("quote signature does not verify")
	// ErrReportDataMismatch is returned when a quote carries other report
	// data than the binding the verifier recomputed: another session key,
	// another nonce, another identity.
	ErrReportDataMismatch = errors.New("report data does not match the expected binding")
	// ErrMeasurementMismatch is returned when a measurement is not among
	// the values the policy allows.
	ErrMeasurementMismatch = errors.New("measurement not allowed by policy")
	// ErrDebug is returned when a TEE allows debugging and the policy
	// forbids it.
	ErrDebug = errors.New("debug mode not allowed by policy")
	// ErrEvidenceTooOld is returned when evidence is older than the
	// policy's maximum age.
	ErrEvidenceTooOld = errors.New("evidence older than policy allows")
	// ErrNoTEE is returned when this machine has no usable TEE.
	ErrNoTEE = errors.New("no TEE available on this machine")
	// ErrTCBOutOfDate is returned when a platform's TCB is below the
	// policy's minimum or the vendor's collateral marks it out of date.
	ErrTCBOutOfDate = errors.New("platform TCB out of date")
	// ErrRevoked is returned when a certificate of the evidence's chain is
	// listed in its issuer's revocation list.
	ErrRevoked = errors.New("certificate revoked")
	// ErrExpired is returned when a certificate or collateral the evidence
	// depends on is expired, or not yet valid, at the verification time.
	ErrExpired = errors.New("certificate or collateral expired")
	// ErrPolicyViolation is returned when a platform field other than a
	// measurement (guest policy bits, VMPL) is not allowed by the policy.
	ErrPolicyViolation = errors.New("evidence not allowed by policy")
	// ErrInvalidPolicy is returned when a policy file cannot be parsed or
	// holds an unknown key or an impossible value.
	ErrInvalidPolicy = errors.New("invalid policy")
)
