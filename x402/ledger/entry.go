package ledger

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// State is where an entry stands in the payment's life.
type State uint8

// The states of an entry. The allowed transitions are
//
//	reserved -> executed -> settled
//	                     -> failed
//	reserved -> released
//
// settled, failed and released are terminal. No state ever returns to
// reserved, so a key is accepted at most once in the ledger's lifetime.
const (
	// StateReserved: the nonce is taken; the paid work may be running.
	StateReserved State = iota + 1
	// StateExecuted: the work ran and its result is held back until the
	// payment settles.
	StateExecuted
	// StateSettled: the payment is on chain (TxHash says where, when known).
	StateSettled
	// StateReleased: the work failed before doing anything; nothing was
	// settled and no result was returned. The nonce stays used.
	StateReleased
	// StateFailed: settlement was definitively refused; the result was
	// never returned.
	StateFailed
)

var stateNames = [...]string{"", "reserved", "executed", "settled", "released", "failed"}

// String returns the state's lowercase name.
func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Terminal reports whether no transition leaves s.
func (s State) Terminal() bool {
	return s == StateSettled || s == StateReleased || s == StateFailed
}

// allowed reports whether the ledger may move an entry from s to t.
func (s State) allowed(t State) bool {
	switch s {
	case StateReserved:
		return t == StateExecuted || t == StateReleased
	case StateExecuted:
		return t == StateSettled || t == StateFailed
	}
	return false
}

// Size caps on the fields of an entry. They keep one record small and
// reject garbage before it reaches the database.
const (
	// MaxIDLen caps Network, Asset, Payer, PayTo and RequestID.
	MaxIDLen = 256
	// MaxBlobLen caps Requirements and Payload (JSON as received).
	MaxBlobLen = 64 << 10
	// MaxTextLen caps TxHash and Reason.
	MaxTextLen = 1024
	// MaxRecordLen caps one encoded record; decoding refuses larger input.
	MaxRecordLen = 3 * MaxBlobLen
)

// Key names one payment authorization: an EIP-3009 nonce is unique per
// payer per token contract, and the token lives on one network.
type Key struct {
	// Network is the CAIP-2 chain id, e.g. "eip155:8453".
	Network string
	// Asset is the token contract (0x hex on EVM networks).
	Asset string
	// Payer is the authorization's "from" (0x hex on EVM networks).
	Payer string
	// Nonce is the authorization's 32-byte nonce.
	Nonce [32]byte
}

// String renders the key for logs and errors; it holds no secret.
func (k Key) String() string {
	return fmt.Sprintf("%s/%s/%s/0x%x", k.Network, k.Asset, k.Payer, k.Nonce[:])
}

// ParseNonce decodes a 0x-prefixed 64-digit hex nonce, the form x402
// payloads carry.
func ParseNonce(s string) ([32]byte, error) {
	var n [32]byte
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		h, ok = strings.CutPrefix(s, "0X")
	}
	if !ok || len(h) != 64 {
		return n, fmt.Errorf("parse nonce %q: want 0x and 64 hex digits: %w", truncate(s), ErrInvalidEntry)
	}
	if _, err := hex.Decode(n[:], []byte(h)); err != nil {
		return n, fmt.Errorf("parse nonce %q: %w", truncate(s), ErrInvalidEntry)
	}
	return n, nil
}

// canonical returns k with EVM addresses lowercased, so that "0xAbC…" and
// "0xabc…" name the same authorization, and validates every field.
func (k Key) canonical() (Key, error) {
	if err := checkID("network", k.Network); err != nil {
		return k, err
	}
	if !strings.Contains(k.Network, ":") {
		return k, fmt.Errorf("network %q is not CAIP-2 (namespace:reference): %w", truncate(k.Network), ErrInvalidEntry)
	}
	if strings.HasPrefix(k.Network, "eip155:") {
		var err error
		if k.Asset, err = evmAddress("asset", k.Asset); err != nil {
			return k, err
		}
		if k.Payer, err = evmAddress("payer", k.Payer); err != nil {
			return k, err
		}
		return k, nil
	}
	if err := checkID("asset", k.Asset); err != nil {
		return k, err
	}
	if err := checkID("payer", k.Payer); err != nil {
		return k, err
	}
	return k, nil
}

func evmAddress(field, s string) (string, error) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		h, ok = strings.CutPrefix(s, "0X")
	}
	if !ok || len(h) != 40 {
		return "", fmt.Errorf("%s %q: want 0x and 40 hex digits: %w", field, truncate(s), ErrInvalidEntry)
	}
	var b [20]byte
	if _, err := hex.Decode(b[:], []byte(h)); err != nil {
		return "", fmt.Errorf("%s %q: not hex: %w", field, truncate(s), ErrInvalidEntry)
	}
	return "0x" + hex.EncodeToString(b[:]), nil
}

func checkID(field, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty: %w", field, ErrInvalidEntry)
	case len(s) > MaxIDLen:
		return fmt.Errorf("%s is %d bytes, over %d: %w", field, len(s), MaxIDLen, ErrInvalidEntry)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r == 0x7f }):
		return fmt.Errorf("%s %q holds spaces or control characters: %w", field, truncate(s), ErrInvalidEntry)
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// bytes encodes a canonical key: length-prefixed network, asset and payer,
// then the nonce. The encoding is unambiguous, so distinct keys never
// collide in the database.
func (k Key) bytes() []byte {
	b := make([]byte, 0, 12+len(k.Network)+len(k.Asset)+len(k.Payer)+32)
	for _, s := range [...]string{k.Network, k.Asset, k.Payer} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return append(b, k.Nonce[:]...)
}

// Entry is one payment in the journal: the key of its authorization and
// everything needed to settle it later, after a restart if need be.
type Entry struct {
	Key
	// PayTo is the recipient the payment was required to pay.
	PayTo string
	// Amount is the payment in the asset's atomic units.
	Amount *big.Int
	// RequestID ties the payment to the request it paid for.
	RequestID string
	// Requirements is the PaymentRequirements JSON the payment answered.
	Requirements []byte
	// Payload is the PaymentPayload JSON (signature and authorization)
	// needed to settle.
	Payload []byte
	// State is the entry's current state. Reserve ignores it.
	State State
	// TxHash is the settlement transaction, once settled; empty when a
	// restart found the authorization already used and the hash unknown.
	TxHash string
	// Reason says why an entry was released or failed, or how it settled
	// during recovery.
	Reason string
	// Created is when the nonce was reserved; Updated the last change.
	Created, Updated time.Time
}

func (e *Entry) validate() error {
	if e.PayTo != "" {
		if err := checkID("pay_to", e.PayTo); err != nil {
			return err
		}
	}
	if len(e.RequestID) > MaxIDLen {
		return fmt.Errorf("request id is %d bytes, over %d: %w", len(e.RequestID), MaxIDLen, ErrInvalidEntry)
	}
	if e.Amount == nil || e.Amount.Sign() < 0 {
		return fmt.Errorf("amount must be a non-negative integer: %w", ErrInvalidEntry)
	}
	if e.Amount.BitLen() > 256 {
		return fmt.Errorf("amount exceeds 256 bits: %w", ErrInvalidEntry)
	}
	if len(e.Requirements) > MaxBlobLen || len(e.Payload) > MaxBlobLen {
		return fmt.Errorf("requirements or payload over %d bytes: %w", MaxBlobLen, ErrInvalidEntry)
	}
	if len(e.TxHash) > MaxTextLen || len(e.Reason) > MaxTextLen {
		return fmt.Errorf("tx hash or reason over %d bytes: %w", MaxTextLen, ErrInvalidEntry)
	}
	return nil
}

// record is the stored form of an Entry. JSON lets fields be added without
// a migration; the opaque blobs travel as base64 so they round-trip
// byte for byte.
type record struct {
	V            int    `json:"v"`
	Network      string `json:"network"`
	Asset        string `json:"asset"`
	Payer        string `json:"payer"`
	Nonce        string `json:"nonce"`
	PayTo        string `json:"pay_to,omitempty"`
	Amount       string `json:"amount"`
	RequestID    string `json:"request_id,omitempty"`
	Requirements []byte `json:"requirements,omitempty"`
	Payload      []byte `json:"payload,omitempty"`
	State        string `json:"state"`
	TxHash       string `json:"tx_hash,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Created      int64  `json:"created"`
	Updated      int64  `json:"updated"`
}

const recordVersion = 1

func encodeEntry(e *Entry) ([]byte, error) {
	r := record{
		V: recordVersion, Network: e.Network, Asset: e.Asset, Payer: e.Payer,
		Nonce: "0x" + hex.EncodeToString(e.Nonce[:]), PayTo: e.PayTo,
		Amount: e.Amount.String(), RequestID: e.RequestID,
		Requirements: e.Requirements, Payload: e.Payload,
		State: e.State.String(), TxHash: e.TxHash, Reason: e.Reason,
		Created: e.Created.UnixNano(), Updated: e.Updated.UnixNano(),
	}
	return json.Marshal(r)
}

// decodeEntry parses a stored record. It is the ledger's only decoder of
// bytes from disk, so it caps the size and validates every field.
func decodeEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) > MaxRecordLen {
		return e, fmt.Errorf("decode record: %d bytes, over %d: %w", len(b), MaxRecordLen, ErrCorrupt)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return e, fmt.Errorf("decode record: %v: %w", err, ErrCorrupt)
	}
	if r.V != recordVersion {
		return e, fmt.Errorf("decode record: version %d: %w", r.V, ErrCorrupt)
	}
	nonce, err := ParseNonce(r.Nonce)
	if err != nil {
		return e, fmt.Errorf("decode record: %v: %w", err, ErrCorrupt)
	}
	amount, ok := new(big.Int).SetString(r.Amount, 10)
	if !ok {
		return e, fmt.Errorf("decode record: amount %q: %w", truncate(r.Amount), ErrCorrupt)
	}
	st := State(0)
	for i, n := range stateNames {
		if n != "" && n == r.State {
			st = State(i)
		}
	}
	if st == 0 {
		return e, fmt.Errorf("decode record: state %q: %w", truncate(r.State), ErrCorrupt)
	}
	e = Entry{
		Key:   Key{Network: r.Network, Asset: r.Asset, Payer: r.Payer, Nonce: nonce},
		PayTo: r.PayTo, Amount: amount, RequestID: r.RequestID,
		Requirements: r.Requirements, Payload: r.Payload,
		State: st, TxHash: r.TxHash, Reason: r.Reason,
		Created: time.Unix(0, r.Created).UTC(), Updated: time.Unix(0, r.Updated).UTC(),
	}
	if e.Key, err = e.Key.canonical(); err != nil {
		return Entry{}, fmt.Errorf("decode record: %v: %w", err, ErrCorrupt)
	}
	if err := e.validate(); err != nil {
		return Entry{}, fmt.Errorf("decode record: %v: %w", err, ErrCorrupt)
	}
	return e, nil
}
