// Package attesttest provides test-only TEE fakes that run the production
// attestation code: a fake Intel PCK PKI whose quotes pass go-tdx-guest's
// real verifier, fake AMD signers (go-sev-guest's testing signer) whose
// reports pass go-sev-guest's real verifier, synthetic collateral and
// revocation lists, fake configfs-tsm clients, and Attesters built on them.
//
// Import it from tests only: it imports go-sev-guest/testing, which
// registers the global flags "product" and "product_name", and every key it
// makes is for tests.
package attesttest
