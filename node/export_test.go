package node

// SetPaymentFault installs the payment fault hook of cfg (see
// PaymentConfig.paymentFault) for the tests of package node_test.
func SetPaymentFault(cfg *Config, f func(stage string) error) { cfg.paymentFault = f }
