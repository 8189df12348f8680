package ledger

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Compaction drops the payment material (requirements and payload, a
// kilobyte or two) of entries that ended long ago; their key, state,
// amount and transaction stay, so the nonce stays used. It must not scan
// the ledger: a busy node adds millions of entries a day, and a write
// transaction over all of them would hold every payment's write back for
// as long. So an index lists the entries still to strip, in the order they
// ended (compactBucket: the end time in big-endian nanoseconds, then the
// entry key), and compaction walks it from the oldest, in short
// transactions, up to its cutoff.

// compactBatch bounds the entries one compaction transaction strips, and
// so how long it holds the database's writer.
const compactBatch = 1000

// compactIndexedKey marks, in the root bucket, a ledger whose compaction
// index is complete (built once for ledgers from before it existed).
var compactIndexedKey = []byte("compact-indexed")

// compactable reports whether e has ended and still carries its payment
// material.
func compactable(e *Entry) bool {
	return e.State.Terminal() && (e.Requirements != nil || e.Payload != nil)
}

// indexIfCompactable adds e, stored under key, to the compaction index
// when it is compactable.
func (b buckets) indexIfCompactable(key []byte, e *Entry) error {
	if !compactable(e) {
		return nil
	}
	return b.compact.Put(compactKey(e.Updated, key), nil)
}

func compactKey(ended time.Time, key []byte) []byte {
	k := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(k, uint64(ended.UnixNano()))
	return append(k, key...)
}

// indexForCompaction builds the compaction index of a ledger written
// before it existed: one scan, once.
func indexForCompaction(root *bolt.Bucket) error {
	if root.Get(compactIndexedKey) != nil {
		return nil
	}
	b := buckets{entries: root.Bucket(entriesBucket), compact: root.Bucket(compactBucket)}
	err := b.entries.ForEach(func(k, raw []byte) error {
		e, err := decodeEntry(raw)
		if err != nil {
			return err
		}
		return b.indexIfCompactable(k, &e)
	})
	if err != nil {
		return fmt.Errorf("index entries for compaction: %w", err)
	}
	return root.Put(compactIndexedKey, []byte{1})
}

// Compact drops the requirements and payload bytes of terminal entries
// that ended before cutoff, keeping the key, state, amount and
// transaction: the key must stay to keep its nonce used, the blobs are
// only needed to settle. It walks the compaction index from the oldest
// entry, compactBatch entries per transaction, and returns how many
// entries it compacted.
func (l *Ledger) Compact(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("compact ledger: %w", err)
		}
		n, more, err := l.compactBatch(cutoff)
		total += n
		if err != nil {
			return total, fmt.Errorf("compact ledger: %w", err)
		}
		if !more {
			return total, nil
		}
	}
}

// compactBatch strips up to compactBatch indexed entries that ended
// before cutoff, in one transaction; more says the index may hold more.
func (l *Ledger) compactBatch(cutoff time.Time) (n int, more bool, err error) {
	err = l.db.Update(func(tx *bolt.Tx) error {
		n, more = 0, false
		b, err := open(tx)
		if err != nil {
			return err
		}
		var done [][]byte
		c := b.compact.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) < 8 {
				return fmt.Errorf("compaction index key of %d bytes: %w", len(k), ErrCorrupt)
			}
			if int64(binary.BigEndian.Uint64(k)) >= cutoff.UnixNano() {
				break
			}
			if len(done) == compactBatch {
				more = true
				break
			}
			done = append(done, append([]byte(nil), k...))
		}
		for _, k := range done {
			stripped, err := b.strip(k[8:])
			if err != nil {
				return err
			}
			if stripped {
				n++
			}
			if err := b.compact.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return n, more, nil
}

// strip drops the payment material of the terminal entry under key;
// false when there was none (or no such entry).
func (b buckets) strip(key []byte) (bool, error) {
	raw := b.entries.Get(key)
	if raw == nil {
		return false, nil
	}
	e, err := decodeEntry(raw)
	if err != nil {
		return false, err
	}
	if !compactable(&e) {
		return false, nil
	}
	e.Requirements, e.Payload = nil, nil
	val, err := encodeEntry(&e)
	if err != nil {
		return false, err
	}
	return true, b.entries.Put(key, val)
}
