package agentstore

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/p2p/card"
)

// MaxManifestSize caps an agent.toml: a name, a description of at most
// card.MaxDescriptionLen bytes, tags and limits fit many times over.
const MaxManifestSize = 16 << 10

// Manifest is an agent's agent.toml: what the node advertises about the
// agent and the limits it runs under. Its rules are the agent card's
// (package p2p/card), checked at deploy time so that a deployed agent
// always yields a card the network accepts.
type Manifest struct {
	// Name is the agent's name: 1-64 ASCII letters, digits, '.', '_', '-',
	// starting with a letter or digit. It is the directory name in
	// app_path and the name callers use.
	Name string `toml:"name"`
	// Description says what the agent does; search matches it. Required,
	// at most card.MaxDescriptionLen bytes of UTF-8.
	Description string `toml:"description"`
	// Tags are extra search terms, at most card.MaxTags of at most
	// card.MaxTagLen bytes each.
	Tags []string `toml:"tags,omitempty"`
	// Price is the base price of one call in the payment token's atomic
	// units; 0 means free. A call costs CallPrice: this plus the price of
	// max_fuel at price_per_mfuel.
	Price uint64 `toml:"price"`
	// PricePerMFuel prices the agent's work: atomic units per million fuel
	// units (docs/metering.md), charged for the whole of MaxFuel up front,
	// before the run (x402 settles one amount, agreed before the work).
	// Needs MaxFuel. 0: the price does not depend on fuel.
	PricePerMFuel uint64 `toml:"price_per_mfuel,omitzero"`
	// MaxFuel is the fuel budget of one run, exactly: a run that needs
	// more fails with out_of_fuel (and is paid for, the work having been
	// done). At most wasm.MaxFuel. 0: the node's budget, which its
	// timeout meets first.
	MaxFuel uint64 `toml:"max_fuel,omitzero"`
	// Budget is the most one run of the agent may pay, in total, for the
	// agents it calls through the agentnet host functions (docs/abi.md),
	// in the same atomic units; every such payment also passes the node's
	// payer policy. 0 means the node's agent_budget.
	Budget uint64 `toml:"budget,omitzero"`
	// Limits tighten the node's execution limits for this agent.
	Limits Limits `toml:"limits,omitempty"`
}

// Limits are an agent's own execution limits. Each is at most the node's
// and zero means the node's.
type Limits struct {
	// Timeout is the wall-clock limit of one run, like "500ms".
	Timeout Duration `toml:"timeout,omitempty"`
}

// Duration is a time.Duration written in TOML as a string like "2s".
type Duration struct{ time.Duration }

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// IsZero lets the TOML encoder omit an unset limit.
func (d Duration) IsZero() bool { return d.Duration == 0 }

// ParseManifest decodes and validates an agent.toml. Unknown keys are
// errors: a misspelt limit must not silently fall back to the node's.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("parse manifest: %d bytes, cap %d: %w", len(b), MaxManifestSize, ErrBadManifest)
	}
	var m Manifest
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&m)
	if err != nil {
		return nil, fmt.Errorf("parse manifest: %v: %w", err, ErrBadManifest)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		return nil, fmt.Errorf("parse manifest: unknown key %q: %w", undec[0].String(), ErrBadManifest)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks every field against the agent card's rules.
func (m *Manifest) Validate() error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("manifest of %q: %s: %w", m.Name, fmt.Sprintf(format, a...), ErrBadManifest)
	}
	if err := card.CheckName(m.Name); err != nil {
		return fmt.Errorf("manifest: %v: %w", err, ErrBadManifest)
	}
	switch {
	case strings.TrimSpace(m.Description) == "":
		return fail("description is empty: search finds agents by it")
	case len(m.Description) > card.MaxDescriptionLen:
		return fail("description of %d bytes, cap %d", len(m.Description), card.MaxDescriptionLen)
	case !utf8.ValidString(m.Description) || strings.ContainsFunc(m.Description, badTextRune):
		return fail("description is not printable UTF-8")
	case len(m.Tags) > card.MaxTags:
		return fail("%d tags, cap %d", len(m.Tags), card.MaxTags)
	case m.Price > math.MaxInt64:
		return fail("price %d does not fit TOML's integers", m.Price)
	case m.Budget > math.MaxInt64:
		return fail("budget %d does not fit TOML's integers", m.Budget)
	case m.MaxFuel > wasm.MaxFuel:
		return fail("max_fuel %d is over the executor's maximum %d", m.MaxFuel, uint64(wasm.MaxFuel))
	case m.PricePerMFuel > math.MaxInt64:
		return fail("price_per_mfuel %d does not fit TOML's integers", m.PricePerMFuel)
	case m.PricePerMFuel > 0 && m.MaxFuel == 0:
		return fail("price_per_mfuel needs max_fuel: a call pays for its fuel cap up front")
	case m.Limits.Timeout.Duration < 0:
		return fail("limits.timeout %s is negative", m.Limits.Timeout)
	}
	if _, ok := m.callPrice(); !ok {
		return fail("price %d plus max_fuel %d at price_per_mfuel %d does not fit TOML's integers", m.Price, m.MaxFuel, m.PricePerMFuel)
	}
	for i, t := range m.Tags {
		if t == "" || len(t) > card.MaxTagLen || !utf8.ValidString(t) || strings.ContainsFunc(t, badTextRune) {
			return fail("tag %q: want 1-%d printable UTF-8 bytes", t, card.MaxTagLen)
		}
		if slices.Contains(m.Tags[:i], t) {
			return fail("tag %q twice", t)
		}
	}
	return nil
}

// badTextRune reports control characters other than tab and newline.
func badTextRune(r rune) bool { return (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f }

// FuelPrice returns the price of MaxFuel at PricePerMFuel, rounded up:
// ceil(max_fuel × price_per_mfuel / 10^6). It is 0 for an agent not priced
// by fuel, and saturates at MaxUint64 for a manifest that would not validate.
func (m *Manifest) FuelPrice() uint64 {
	hi, lo := bits.Mul64(m.MaxFuel, m.PricePerMFuel)
	if hi >= unitsPerMFuel {
		return math.MaxUint64
	}
	q, r := bits.Div64(hi, lo, unitsPerMFuel)
	if r != 0 {
		q++ // a fraction of an atomic unit is charged as a whole one
	}
	return q
}

// unitsPerMFuel is the fuel price_per_mfuel prices.
const unitsPerMFuel = 1_000_000

// CallPrice returns what one call costs, in the token's atomic units: Price
// plus FuelPrice. It is the amount of the x402 requirements, computed before
// the run, and the price the agent's card advertises. Validate guarantees it
// fits an int64.
func (m *Manifest) CallPrice() uint64 {
	p, _ := m.callPrice()
	return p
}

func (m *Manifest) callPrice() (uint64, bool) {
	fuel := m.FuelPrice()
	total, carry := bits.Add64(m.Price, fuel, 0)
	if carry != 0 || total > math.MaxInt64 {
		return math.MaxUint64, false
	}
	return total, true
}

// PriceAmount returns CallPrice as the decimal string cards carry.
func (m *Manifest) PriceAmount() string { return strconv.FormatUint(m.CallPrice(), 10) }

// Encode returns the manifest as TOML, in the form ParseManifest reads.
func (m *Manifest) Encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(m); err != nil {
		return nil, fmt.Errorf("encode manifest of %q: %w", m.Name, err)
	}
	return buf.Bytes(), nil
}

// equal reports whether two manifests say the same.
func (m *Manifest) equal(o *Manifest) bool {
	return m.Name == o.Name && m.Description == o.Description && slices.Equal(m.Tags, o.Tags) &&
		m.Price == o.Price && m.PricePerMFuel == o.PricePerMFuel && m.MaxFuel == o.MaxFuel &&
		m.Budget == o.Budget && m.Limits == o.Limits
}
