package policy

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/agentnet/agentnode/internal/boltgroup"
	bolt "go.etcd.io/bbolt"
)

// Spending is kept per hour bucket (unix time / 3600, UTC) and per scope,
// for one network and asset: amounts of different tokens never add up.
// "hour" is the current clock hour; "day" is the current hour plus the 23
// before it, a sliding day with hourly steps.
const (
	hourSeconds = 3600
	dayHours    = 24
	// keepHours: buckets older than this are pruned.
	keepHours = 48
)

var (
	spendBucket    = []byte("agentnode.x402.policy.spend.v1")
	countersBucket = []byte("counters")
	holdsBucket    = []byte("holds")
)

// Window is an amount spent in the current hour and the last 24 hours.
type Window struct {
	Hour, Day *big.Int
}

// Spending is what a payer has spent with the payment's token, before the
// payment being decided, by scope.
type Spending struct {
	// Total is everything the node paid.
	Total Window
	// Peer is what the node paid the target peer.
	Peer Window
	// Agent is what the origin paid: the calling agent, or the node's
	// users together when the origin is a user.
	Agent Window
	// TargetAgent is what the node paid the target agent (peer and name).
	TargetAgent Window
}

// Hold is spending reserved by an allowed payment. Commit it once the
// payment settled, roll it back if the payment was not made. A hold that
// is neither (the node stopped) keeps counting as spent: limits err on
// the safe side.
type Hold struct {
	ID      string
	Network string
	Asset   string
	Amount  *big.Int
	Hour    int64
	Scopes  []string
	Created time.Time
}

type holdRecord struct {
	V       int      `json:"v"`
	Network string   `json:"network"`
	Asset   string   `json:"asset"`
	Amount  string   `json:"amount"`
	Hour    int64    `json:"hour"`
	Scopes  []string `json:"scopes"`
	Created int64    `json:"created"`
}

// maxHoldRecord caps a stored hold; decoding refuses larger input.
const maxHoldRecord = 4096

func decodeHold(id string, b []byte) (Hold, error) {
	if len(b) > maxHoldRecord {
		return Hold{}, fmt.Errorf("decode hold: %d bytes: %w", len(b), ErrCorrupt)
	}
	var r holdRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return Hold{}, fmt.Errorf("decode hold: %v: %w", err, ErrCorrupt)
	}
	amt, ok := new(big.Int).SetString(r.Amount, 10)
	if r.V != 1 || !ok || amt.Sign() < 0 || amt.BitLen() > 256 || r.Network == "" || r.Asset == "" || len(r.Scopes) == 0 || len(r.Scopes) > 8 {
		return Hold{}, fmt.Errorf("decode hold: invalid fields: %w", ErrCorrupt)
	}
	return Hold{ID: id, Network: r.Network, Asset: r.Asset, Amount: amt, Hour: r.Hour, Scopes: r.Scopes,
		Created: time.Unix(0, r.Created).UTC()}, nil
}

func encodeHold(h Hold) ([]byte, error) {
	return json.Marshal(holdRecord{V: 1, Network: h.Network, Asset: h.Asset, Amount: h.Amount.String(),
		Hour: h.Hour, Scopes: h.Scopes, Created: h.Created.UnixNano()})
}

// counterKey is LP(network) LP(asset) LP(scope) hour: unambiguous.
func counterKey(network, asset, scope string, hour int64) []byte {
	b := make([]byte, 0, 12+len(network)+len(asset)+len(scope)+8)
	for _, s := range [...]string{network, asset, scope} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return binary.BigEndian.AppendUint64(b, uint64(hour))
}

func counterHour(key []byte) (int64, bool) {
	if len(key) < 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(key[len(key)-8:])), true
}

// spendStore keeps counters in memory, loaded from and written through to
// bbolt. Decisions read memory; every change is on disk before the
// payment it allows is made.
type spendStore struct {
	db     *bolt.DB
	commit *boltgroup.Committer // writes holds and counters

	mu       sync.Mutex
	counters map[string]*big.Int
	pruned   int64 // the hour of the last pruning of counters
}

// pruneLocked drops in-memory buckets too old to count, once an hour.
// (The database drops them at the next open.)
func (s *spendStore) pruneLocked(hour int64) {
	if hour == s.pruned {
		return
	}
	s.pruned = hour
	for k := range s.counters {
		if h, ok := counterHour([]byte(k)); ok && h < hour-keepHours {
			delete(s.counters, k)
		}
	}
}

func openSpend(db *bolt.DB, now time.Time) (*spendStore, error) {
	s := &spendStore{db: db, commit: boltgroup.New(db, 0), counters: make(map[string]*big.Int)}
	oldest := hourOf(now) - keepHours
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(spendBucket)
		if err != nil {
			return err
		}
		c, err := root.CreateBucketIfNotExists(countersBucket)
		if err != nil {
			return err
		}
		if _, err := root.CreateBucketIfNotExists(holdsBucket); err != nil {
			return err
		}
		var stale [][]byte
		err = c.ForEach(func(k, v []byte) error {
			h, ok := counterHour(k)
			if !ok || len(v) > 64 {
				return fmt.Errorf("counter record: %w", ErrCorrupt)
			}
			if h < oldest {
				stale = append(stale, append([]byte(nil), k...))
				return nil
			}
			s.counters[string(k)] = new(big.Int).SetBytes(v)
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := c.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open spending store: %w", err)
	}
	return s, nil
}

func hourOf(t time.Time) int64 { return t.Unix() / hourSeconds }

// windowLocked sums a scope's buckets.
func (s *spendStore) windowLocked(network, asset, scope string, hour int64) Window {
	w := Window{Hour: new(big.Int), Day: new(big.Int)}
	key := counterKey(network, asset, scope, 0)
	hourAt := key[len(key)-8:]
	for h := hour - dayHours + 1; h <= hour; h++ {
		binary.BigEndian.PutUint64(hourAt, uint64(h))
		if v := s.counters[string(key)]; v != nil {
			w.Day.Add(w.Day, v)
			if h == hour {
				w.Hour.Add(w.Hour, v)
			}
		}
	}
	return w
}

func (s *spendStore) spendingLocked(network, asset string, sc scopes, hour int64) Spending {
	return Spending{
		Total:       s.windowLocked(network, asset, sc.total, hour),
		Peer:        s.windowLocked(network, asset, sc.peer, hour),
		Agent:       s.windowLocked(network, asset, sc.agent, hour),
		TargetAgent: s.windowLocked(network, asset, sc.target, hour),
	}
}

// addLocked adds delta (which may be negative) to the hold's counters in
// memory.
func (s *spendStore) addLocked(h Hold, delta *big.Int) {
	for _, sc := range h.Scopes {
		k := string(counterKey(h.Network, h.Asset, sc, h.Hour))
		v := s.counters[k]
		if v == nil {
			v = new(big.Int)
			s.counters[k] = v
		}
		v.Add(v, delta)
		if v.Sign() <= 0 {
			delete(s.counters, k)
		}
	}
}

// persist writes a hold and its counters (create) or removes them
// (rollback), or only removes the hold record (commit).
func (s *spendStore) persist(ctx context.Context, h Hold, op string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Group commit: a lone hold write commits at once (db.Batch would hold
	// it for the database's batch delay), concurrent ones share an fsync.
	return s.commit.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(spendBucket)
		if root == nil {
			return fmt.Errorf("spending bucket missing: %w", ErrCorrupt)
		}
		holds, counters := root.Bucket(holdsBucket), root.Bucket(countersBucket)
		id := []byte(h.ID)
		existing := holds.Get(id)
		switch op {
		case "create":
			if existing != nil {
				return fmt.Errorf("hold %s exists", h.ID)
			}
			rec, err := encodeHold(h)
			if err != nil {
				return err
			}
			if err := holds.Put(id, rec); err != nil {
				return err
			}
			return addCounters(counters, h, h.Amount)
		case "commit":
			if existing == nil {
				return ErrUnknownHold
			}
			return holds.Delete(id)
		case "rollback":
			if existing == nil {
				return ErrUnknownHold
			}
			if err := holds.Delete(id); err != nil {
				return err
			}
			return addCounters(counters, h, new(big.Int).Neg(h.Amount))
		}
		return fmt.Errorf("unknown op %q", op)
	})
}

func addCounters(b *bolt.Bucket, h Hold, delta *big.Int) error {
	for _, sc := range h.Scopes {
		k := counterKey(h.Network, h.Asset, sc, h.Hour)
		v := new(big.Int).SetBytes(b.Get(k))
		v.Add(v, delta)
		if v.Sign() <= 0 {
			if err := b.Delete(k); err != nil {
				return err
			}
			continue
		}
		if err := b.Put(k, v.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func (s *spendStore) hold(ctx context.Context, id string) (Hold, error) {
	var h Hold
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(spendBucket)
		if root == nil {
			return fmt.Errorf("spending bucket missing: %w", ErrCorrupt)
		}
		raw := root.Bucket(holdsBucket).Get([]byte(id))
		if raw == nil {
			return ErrUnknownHold
		}
		var err error
		h, err = decodeHold(id, raw)
		return err
	})
	return h, err
}

func (s *spendStore) holds(ctx context.Context) ([]Hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Hold
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(spendBucket)
		if root == nil {
			return fmt.Errorf("spending bucket missing: %w", ErrCorrupt)
		}
		return root.Bucket(holdsBucket).ForEach(func(k, v []byte) error {
			h, err := decodeHold(string(k), v)
			if err != nil {
				return err
			}
			out = append(out, h)
			return nil
		})
	})
	return out, err
}

func newHoldID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// scopes names the counters one payment adds to.
type scopes struct{ total, peer, agent, target string }

func scopesOf(p Payment) scopes {
	agent := "user"
	if p.Origin.Kind == OriginAgent {
		agent = "agent:" + p.Origin.Agent
	}
	return scopes{
		total:  "total",
		peer:   "peer:" + p.Target.Peer,
		agent:  "origin:" + agent,
		target: "target:" + p.Target.Peer + "/" + p.Target.Agent,
	}
}

func (s scopes) list() []string { return []string{s.total, s.peer, s.agent, s.target} }

// canonicalAsset lowercases EVM token addresses so that spending in one
// token is one account whatever the case it was written in.
func canonicalAsset(network, asset string) string {
	if strings.HasPrefix(network, "eip155:") {
		return strings.ToLower(asset)
	}
	return asset
}
