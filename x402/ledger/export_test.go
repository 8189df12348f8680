package ledger

import bolt "go.etcd.io/bbolt"

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

// WriteReservation writes e in state reserved straight to disk, as ledgers
// before in-memory reservations did, for the test of their upgrade.
func WriteReservation(l *Ledger, e Entry) error {
	k, err := e.Key.canonical()
	if err != nil {
		return err
	}
	e.Key, e.State = k, StateReserved
	e.Created, e.Updated = l.now().UTC(), l.now().UTC()
	val, err := encodeEntry(&e)
	if err != nil {
		return err
	}
	return l.db.Update(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		if err := b.entries.Put(k.bytes(), val); err != nil {
			return err
		}
		return b.reserved.Put(k.bytes(), nil)
	})
}
