package ledger

// WithFault installs a hook called at named points of Recover; an error
// it returns aborts Recover there, as a crash would. Test-only.
func WithFault(f func(point string, k Key) error) Option {
	return func(l *Ledger) { l.fault = f }
}

// Fault points, exported for the external tests.
const (
	FaultAfterCheck  = faultAfterCheck
	FaultAfterSettle = faultAfterSettle
)
