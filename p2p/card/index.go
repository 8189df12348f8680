package card

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
)

// MaxIndexNames caps the agents one node advertises.
const MaxIndexNames = 64

// Index lists the agents a node currently advertises. It is stored under
// /agentnet-card/<peer id>, signed by the same identity key as the cards,
// with the same seq, expiry and selection rules. A provider record names a
// node, not an agent; the index turns that node into card keys without a
// round trip to the node itself.
type Index struct {
	PeerID    peer.ID
	Names     []string
	Seq       uint64
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// SignedIndex is an index with its envelope bytes.
type SignedIndex struct {
	Index
	Raw []byte
}

type wireIndexPayload struct {
	PeerID    string    `json:"peer_id"`
	Names     []string  `json:"names"`
	Seq       uint64    `json:"seq"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type wireIndex struct{ idx *Index }

func (*wireIndex) Domain() string { return IndexDomain }
func (*wireIndex) Codec() []byte  { return IndexCodec }

func (w *wireIndex) MarshalRecord() ([]byte, error) {
	return json.Marshal(wireIndexPayload{
		PeerID:    w.idx.PeerID.String(),
		Names:     nonNil(w.idx.Names),
		Seq:       w.idx.Seq,
		IssuedAt:  w.idx.IssuedAt.UTC(),
		ExpiresAt: w.idx.ExpiresAt.UTC(),
	})
}

func (w *wireIndex) UnmarshalRecord(b []byte) error {
	var p wireIndexPayload
	if err := decodeStrict(b, &p); err != nil {
		return err
	}
	id, err := peer.Decode(p.PeerID)
	if err != nil {
		return fmt.Errorf("decode index peer id: %v: %w", err, ErrSchema)
	}
	w.idx = &Index{PeerID: id, Names: p.Names, Seq: p.Seq, IssuedAt: p.IssuedAt.UTC(), ExpiresAt: p.ExpiresAt.UTC()}
	return nil
}

func (x *Index) checkSchema() error {
	if len(x.Names) > MaxIndexNames {
		return fmt.Errorf("index of %d names, cap %d: %w", len(x.Names), MaxIndexNames, ErrTooLarge)
	}
	for i, n := range x.Names {
		if err := checkName(n); err != nil {
			return err
		}
		if i > 0 && x.Names[i-1] >= n {
			return fmt.Errorf("index names not sorted and unique at %q: %w", n, ErrSchema)
		}
	}
	if x.IssuedAt.IsZero() || !x.ExpiresAt.After(x.IssuedAt) || x.ExpiresAt.Sub(x.IssuedAt) > MaxLifetime {
		return fmt.Errorf("index times issued %s expires %s: %w", x.IssuedAt, x.ExpiresAt, ErrSchema)
	}
	if x.Seq == 0 {
		return fmt.Errorf("index seq 0: %w", ErrSchema)
	}
	return nil
}

// SealIndex signs x with key. Names are sorted first.
func SealIndex(x *Index, key crypto.PrivKey) (*SignedIndex, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("seal index: peer id of key: %w", err)
	}
	if x.PeerID != id {
		return nil, fmt.Errorf("seal index: index peer %s, key peer %s: %w", x.PeerID, id, ErrPeerMismatch)
	}
	x.Names = slices.Compact(slices.Sorted(slices.Values(x.Names)))
	if err := x.checkSchema(); err != nil {
		return nil, fmt.Errorf("seal index: %w", err)
	}
	env, err := record.Seal(&wireIndex{idx: x}, key)
	if err != nil {
		return nil, fmt.Errorf("seal index: %w", err)
	}
	raw, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal index envelope: %w", err)
	}
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("seal index: %d bytes: %w", len(raw), ErrTooLarge)
	}
	return &SignedIndex{Index: *x, Raw: raw}, nil
}

// OpenIndex checks a signed index's size, signature, schema and signer,
// like [Open] for cards.
func OpenIndex(raw []byte) (*SignedIndex, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("open index: %d bytes, cap %d: %w", len(raw), MaxSize, ErrTooLarge)
	}
	var w wireIndex
	pub, err := consume(raw, &w, IndexCodec)
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	if err := checkSigner(pub, w.idx.PeerID); err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	if err := w.idx.checkSchema(); err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	return &SignedIndex{Index: *w.idx, Raw: raw}, nil
}
