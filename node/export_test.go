package node

import "time"

// SetPaymentFault installs the payment fault hook of cfg (see
// PaymentConfig.paymentFault) for the tests of package node_test.
func SetPaymentFault(cfg *Config, f func(stage string) error) { cfg.paymentFault = f }

// SetSettleObserver installs the settlement-duration hook of cfg (see
// PaymentConfig.settleObserver).
func SetSettleObserver(cfg *Config, f func(time.Duration)) { cfg.settleObserver = f }

// SetVerifyTimeout sets the bound of a payment's verification (see
// PaymentConfig.verifyTimeout).
func SetVerifyTimeout(cfg *Config, d time.Duration) { cfg.verifyTimeout = d }

// SetPaymentClock sets the clock the node checks authorization windows
// against (see PaymentConfig.clock).
func SetPaymentClock(cfg *Config, now func() time.Time) { cfg.clock = now }
