package card

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// The payload codec: strict JSON (unknown fields and trailing data are
// errors; a new field means a new domain). Binary fields are lowercase hex
// like everywhere in agentnode, except the quote, which is base64 to keep a
// hardware quote inside MaxSize. Times are RFC 3339 in UTC.

type wirePayload struct {
	PeerID       string       `json:"peer_id"`
	Name         string       `json:"name"`
	Description  string       `json:"description"`
	Tags         []string     `json:"tags"`
	Price        Price        `json:"price"`
	ModuleSHA256 string       `json:"module_sha256"`
	Evidence     wireEvidence `json:"evidence"`
	Epoch        uint64       `json:"epoch"`
	Seq          uint64       `json:"seq"`
	IssuedAt     time.Time    `json:"issued_at"`
	ExpiresAt    time.Time    `json:"expires_at"`
	Addrs        []string     `json:"addrs"`
	Withdrawn    bool         `json:"withdrawn,omitempty"`
}

type wireEvidence struct {
	Platform attest.Platform `json:"platform"`
	Quote    []byte          `json:"quote"`
}

// wireCard adapts a Card to record.Record.
type wireCard struct{ card *Card }

func (*wireCard) Domain() string { return Domain }
func (*wireCard) Codec() []byte  { return Codec }

func (w *wireCard) MarshalRecord() ([]byte, error) {
	c := w.card
	return json.Marshal(wirePayload{
		PeerID:       c.PeerID.String(),
		Name:         c.Name,
		Description:  c.Description,
		Tags:         nonNil(c.Tags),
		Price:        c.Price,
		ModuleSHA256: hex.EncodeToString(c.ModuleSHA256[:]),
		Evidence:     wireEvidence{Platform: c.Evidence.Platform, Quote: c.Evidence.Quote},
		Epoch:        c.Epoch,
		Seq:          c.Seq,
		IssuedAt:     c.IssuedAt.UTC(),
		ExpiresAt:    c.ExpiresAt.UTC(),
		Addrs:        nonNil(c.Addrs),
		Withdrawn:    c.Withdrawn,
	})
}

func (w *wireCard) UnmarshalRecord(b []byte) error {
	var p wirePayload
	if err := decodeStrict(b, &p); err != nil {
		return err
	}
	id, err := peer.Decode(p.PeerID)
	if err != nil {
		return fmt.Errorf("decode card peer id: %v: %w", err, ErrSchema)
	}
	sum, err := hex.DecodeString(p.ModuleSHA256)
	if err != nil || len(sum) != 32 {
		return fmt.Errorf("decode card module_sha256: want 64 hex digits: %w", ErrSchema)
	}
	c := &Card{
		PeerID:      id,
		Name:        p.Name,
		Description: p.Description,
		Tags:        p.Tags,
		Price:       p.Price,
		Evidence:    attest.Evidence{Platform: p.Evidence.Platform, Quote: p.Evidence.Quote},
		Epoch:       p.Epoch,
		Seq:         p.Seq,
		IssuedAt:    p.IssuedAt.UTC(),
		ExpiresAt:   p.ExpiresAt.UTC(),
		Addrs:       p.Addrs,
		Withdrawn:   p.Withdrawn,
	}
	copy(c.ModuleSHA256[:], sum)
	w.card = c
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// decodeStrict decodes JSON refusing unknown fields and trailing data.
func decodeStrict(b []byte, v any) error {
	if len(b) > MaxSize {
		return fmt.Errorf("decode payload: %d bytes: %w", len(b), ErrTooLarge)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode payload: %v: %w", err, ErrSchema)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("decode payload: trailing data: %w", ErrSchema)
	}
	return nil
}

// checkSchema applies the field rules to a card.
func (c *Card) checkSchema() error {
	if err := checkName(c.Name); err != nil {
		return err
	}
	if len(c.Description) > MaxDescriptionLen {
		return fmt.Errorf("description of %d bytes, cap %d: %w", len(c.Description), MaxDescriptionLen, ErrTooLarge)
	}
	if !utf8.ValidString(c.Description) {
		return fmt.Errorf("description is not UTF-8: %w", ErrSchema)
	}
	if len(c.Tags) > MaxTags {
		return fmt.Errorf("%d tags, cap %d: %w", len(c.Tags), MaxTags, ErrTooLarge)
	}
	for _, t := range c.Tags {
		if t == "" || len(t) > MaxTagLen || !utf8.ValidString(t) || strings.ContainsFunc(t, isControl) {
			return fmt.Errorf("tag %q: want 1-%d printable UTF-8 bytes: %w", t, MaxTagLen, ErrSchema)
		}
	}
	if err := c.Price.check(); err != nil {
		return err
	}
	if !c.Withdrawn {
		if _, err := attest.ParsePlatform(string(c.Evidence.Platform)); err != nil {
			return fmt.Errorf("evidence: %v: %w", err, ErrSchema)
		}
		if len(c.Evidence.Quote) == 0 || len(c.Evidence.Quote) > attest.MaxQuoteSize {
			return fmt.Errorf("evidence quote of %d bytes: %w", len(c.Evidence.Quote), ErrSchema)
		}
	}
	if c.IssuedAt.IsZero() || !c.ExpiresAt.After(c.IssuedAt) {
		return fmt.Errorf("expires_at %s not after issued_at %s: %w", c.ExpiresAt, c.IssuedAt, ErrSchema)
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt); life > MaxLifetime {
		return fmt.Errorf("lifetime %s, cap %s: %w", life, MaxLifetime, ErrSchema)
	}
	if c.Epoch != Epoch(c.IssuedAt) {
		return fmt.Errorf("epoch %d, issued_at gives %d: %w", c.Epoch, Epoch(c.IssuedAt), ErrSchema)
	}
	if c.Seq == 0 {
		return fmt.Errorf("seq 0: %w", ErrSchema)
	}
	return checkAddrs(c.Addrs)
}

func checkAddrs(addrs []string) error {
	if len(addrs) > MaxAddrs {
		return fmt.Errorf("%d addrs, cap %d: %w", len(addrs), MaxAddrs, ErrTooLarge)
	}
	for _, a := range addrs {
		if len(a) > MaxAddrLen {
			return fmt.Errorf("addr of %d bytes: %w", len(a), ErrTooLarge)
		}
		if _, err := ma.NewMultiaddr(a); err != nil {
			return fmt.Errorf("addr %q: %v: %w", a, err, ErrSchema)
		}
	}
	return nil
}

// checkName enforces the agent name rule: 1-64 bytes of ASCII letters,
// digits, '.', '_' and '-', starting with a letter or digit. Names are
// path segments of DHT keys and appear in URLs.
func checkName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("agent name %q: want 1-%d characters: %w", name, MaxNameLen, ErrSchema)
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		alnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		if !alnum && (i == 0 || b != '.' && b != '_' && b != '-') {
			return fmt.Errorf("agent name %q: want letters, digits, '.', '_', '-', starting with a letter or digit: %w", name, ErrSchema)
		}
	}
	return nil
}

// CheckName reports whether name is a valid agent name, for deploy-time
// validation before a card is ever issued.
func CheckName(name string) error { return checkName(name) }

func (p Price) check() error {
	for _, f := range []string{p.Amount, p.Asset, p.Network, p.PayTo} {
		if len(f) > MaxPriceFieldLen || strings.ContainsFunc(f, isControl) {
			return fmt.Errorf("price field of %d bytes: %w", len(f), ErrSchema)
		}
	}
	if p.Amount == "" {
		return fmt.Errorf("price amount is empty (use \"0\" for free): %w", ErrSchema)
	}
	for i := 0; i < len(p.Amount); i++ {
		if p.Amount[i] < '0' || p.Amount[i] > '9' {
			return fmt.Errorf("price amount %q: want a decimal integer of atomic units: %w", p.Amount, ErrSchema)
		}
	}
	if len(p.Amount) > 1 && p.Amount[0] == '0' {
		return fmt.Errorf("price amount %q has a leading zero: %w", p.Amount, ErrSchema)
	}
	if len(p.Amount) > 78 {
		return fmt.Errorf("price amount exceeds uint256: %w", ErrSchema)
	}
	if !p.Free() && (p.Asset == "" || p.Network == "" || p.PayTo == "") {
		return fmt.Errorf("priced agent needs asset, network and pay_to: %w", ErrSchema)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
