package x402

// Error reasons, spelled exactly as the official SDKs emit them in
// VerifyResponse.InvalidReason and SettleResponse.ErrorReason. Reasons are
// opaque strings on the wire: accept any value, and branch only on
// ReasonSettlementPending, the nonce-used and the insufficient-balance
// reasons (see IsNonceUsed and IsInsufficientBalance).
const (
	// Generic reasons of the v2 specification.
	ReasonInsufficientFunds          = "insufficient_funds"
	ReasonInvalidNetwork             = "invalid_network"
	ReasonInvalidPayload             = "invalid_payload"
	ReasonInvalidPaymentRequirements = "invalid_payment_requirements"
	ReasonInvalidScheme              = "invalid_scheme"
	ReasonUnsupportedScheme          = "unsupported_scheme"
	ReasonInvalidX402Version         = "invalid_x402_version"
	ReasonInvalidTransactionState    = "invalid_transaction_state"
	ReasonUnexpectedVerifyError      = "unexpected_verify_error"
	ReasonUnexpectedSettleError      = "unexpected_settle_error"
	ReasonUnsupportedPayloadType     = "unsupported_payload_type"
	ReasonNoFacilitatorForNetwork    = "no_facilitator_for_network"
	ReasonInvalidV1Payload           = "invalid_v1_payload"
	ReasonInvalidV1Requirements      = "invalid_v1_requirements"
	ReasonInvalidV2Payload           = "invalid_v2_payload"
	ReasonInvalidV2Requirements      = "invalid_v2_requirements"

	// ReasonSettlementPending marks a broadcast settlement whose receipt did
	// not arrive within the wait: non-terminal, reconcile later.
	ReasonSettlementPending = "settlement_pending"

	// Verification of the exact scheme on EVM.
	ReasonExactEVMScheme                    = "invalid_exact_evm_scheme"
	ReasonExactEVMNetworkMismatch           = "invalid_exact_evm_network_mismatch"
	ReasonExactEVMPayload                   = "invalid_exact_evm_payload"
	ReasonExactEVMMissingSignature          = "invalid_exact_evm_payload_missing_signature"
	ReasonExactEVMNetworkConfig             = "invalid_exact_evm_failed_to_get_network_config"
	ReasonExactEVMMissingDomain             = "invalid_exact_evm_missing_eip712_domain"
	ReasonExactEVMRecipientMismatch         = "invalid_exact_evm_recipient_mismatch"
	ReasonExactEVMPayloadRecipientMismatch  = "invalid_exact_evm_payload_recipient_mismatch"
	ReasonExactEVMValueMismatch             = "invalid_exact_evm_payload_authorization_value_mismatch"
	ReasonExactEVMAuthorizationValue        = "invalid_exact_evm_authorization_value"
	ReasonExactEVMAuthorizationValueV1      = "invalid_exact_evm_payload_authorization_value"
	ReasonExactEVMRequiredAmount            = "invalid_exact_evm_required_amount"
	ReasonExactEVMValidBefore               = "invalid_exact_evm_payload_authorization_valid_before"
	ReasonExactEVMValidAfter                = "invalid_exact_evm_payload_authorization_valid_after"
	ReasonExactEVMSignatureFormat           = "invalid_exact_evm_signature_format"
	ReasonExactEVMSignature                 = "invalid_exact_evm_signature"
	ReasonExactEVMPayloadSignature          = "invalid_exact_evm_payload_signature"
	ReasonExactEVMVerifySignature           = "invalid_exact_evm_failed_to_verify_signature"
	ReasonExactEVMCheckNonce                = "invalid_exact_evm_failed_to_check_nonce"
	ReasonExactEVMNonceUsed                 = "invalid_exact_evm_nonce_already_used"
	ReasonExactEVMGetBalance                = "invalid_exact_evm_failed_to_get_balance"
	ReasonExactEVMInsufficientBalance       = "invalid_exact_evm_insufficient_balance"
	ReasonExactEVMTokenNameMismatch         = "invalid_exact_evm_token_name_mismatch"
	ReasonExactEVMTokenVersionMismatch      = "invalid_exact_evm_token_version_mismatch"
	ReasonExactEVMEIP3009NotSupported       = "invalid_exact_evm_eip3009_not_supported"
	ReasonExactEVMSimulationFailed          = "invalid_exact_evm_transaction_simulation_failed"
	ReasonExactEVMUndeployedSmartWallet     = "invalid_exact_evm_payload_undeployed_smart_wallet"
	ReasonEIP6492FactoryNotAllowed          = "eip6492_factory_not_allowed"
	ReasonExactEVMVerificationFailed        = "invalid_exact_evm_verification_failed"
	ReasonExactEVMParseSignature            = "invalid_exact_evm_failed_to_parse_signature"
	ReasonExactEVMCheckDeployment           = "invalid_exact_evm_failed_to_check_deployment"
	ReasonExactEVMExecuteTransfer           = "invalid_exact_evm_failed_to_execute_transfer"
	ReasonExactEVMGetReceipt                = "invalid_exact_evm_failed_to_get_receipt"
	ReasonExactEVMTransactionFailed         = "invalid_exact_evm_transaction_failed"
	ReasonExactEVMTransferEventMismatch     = "invalid_exact_evm_transfer_event_mismatch"
	ReasonSmartWalletDeploymentFailed       = "smart_wallet_deployment_failed"
	ReasonInvalidPayment                    = "invalid_payment"
	ReasonPaymentExpired                    = "payment_expired"
	ReasonDuplicateSettlement               = "duplicate_settlement"
	ReasonPermit2AllowanceRequired          = "permit2_allowance_required"
	ReasonExactEVMPayloadAuthorizationValue = ReasonExactEVMAuthorizationValueV1
)

// IsNonceUsed reports whether reason says the authorization's nonce was
// already consumed (replay, or settled earlier).
func IsNonceUsed(reason string) bool {
	return reason == ReasonExactEVMNonceUsed || reason == ReasonDuplicateSettlement
}

// IsInsufficientBalance reports whether reason says the payer lacks funds.
func IsInsufficientBalance(reason string) bool {
	return reason == ReasonExactEVMInsufficientBalance || reason == ReasonInsufficientFunds
}

// IsAmountMismatch reports whether reason is one of the spellings the SDKs
// use for "the authorized value differs from the required amount".
func IsAmountMismatch(reason string) bool {
	switch reason {
	case ReasonExactEVMValueMismatch, ReasonExactEVMAuthorizationValue,
		ReasonExactEVMAuthorizationValueV1, ReasonExactEVMRequiredAmount:
		return true
	}
	return false
}
