package attest

import (
	"bytes"
	"fmt"
	"slices"
	"time"
)

// Policy is what a verifier requires of evidence. The zero Policy accepts
// genuine TDX or SNP hardware running any measurement, forbids debug mode
// and refuses the simulated TEE; [DefaultPolicy] returns it.
//
// A Policy is read from TOML (see docs/policy.md); the field tags are the
// file's keys.
type Policy struct {
	// Platforms lists the hardware platforms accepted. Empty means tdx and
	// snp. The simulated platform is governed by AcceptSim alone.
	Platforms []Platform `toml:"platforms"`
	// AcceptSim admits evidence of the simulated TEE. False by default: sim
	// evidence proves only that the binding path works.
	AcceptSim bool `toml:"accept_sim"`
	// AllowDebug admits TEEs whose debug mode is on, which lets the host
	// read guest memory. False by default.
	AllowDebug bool `toml:"allow_debug"`
	// MaxEvidenceAge bounds the age of evidence that carries its issue
	// time. Zero means no bound.
	MaxEvidenceAge time.Duration `toml:"max_evidence_age"`

	TDX TDXPolicy `toml:"tdx"`
	SNP SNPPolicy `toml:"snp"`
	Sim SimPolicy `toml:"sim"`

	// Now is the clock used for age checks; nil means time.Now.
	Now func() time.Time `toml:"-"`
}

// TDXPolicy pins Intel TDX measurements. An empty list leaves a register
// unpinned; otherwise its value must equal one of the entries.
type TDXPolicy struct {
	MRTD       []HexBytes `toml:"mrtd"`
	RTMR0      []HexBytes `toml:"rtmr0"`
	RTMR1      []HexBytes `toml:"rtmr1"`
	RTMR2      []HexBytes `toml:"rtmr2"`
	RTMR3      []HexBytes `toml:"rtmr3"`
	MRConfigID []HexBytes `toml:"mrconfigid"`
	// MinTeeTCBSVN is the minimum TEE TCB SVN, 16 bytes compared per
	// component. Empty means no minimum.
	MinTeeTCBSVN HexBytes `toml:"min_tee_tcb_svn"`
}

// SNPPolicy pins AMD SEV-SNP measurements and platform requirements.
type SNPPolicy struct {
	Measurement []HexBytes `toml:"measurement"`
	HostData    []HexBytes `toml:"host_data"`
	// MinTCB is the minimum reported TCB as the 64-bit TCB_VERSION value.
	// Zero means no minimum.
	MinTCB uint64 `toml:"min_tcb"`
	// VMPL, when set, is the VM privilege level the report must come from.
	VMPL *int `toml:"vmpl"`
}

// SimPolicy pins the simulated TEE: its measurement and the signing keys
// trusted to speak for it (hex Ed25519 public keys). Empty lists accept any.
type SimPolicy struct {
	Measurement []HexBytes `toml:"measurement"`
	Keys        []HexBytes `toml:"keys"`
}

// DefaultPolicy accepts genuine TDX or SNP hardware with any measurement,
// without debug mode, and refuses the simulated TEE.
func DefaultPolicy() *Policy { return &Policy{} }

// DevPolicy is DefaultPolicy plus the simulated TEE: for `agentnode dev`,
// testnets and clients run with --allow-sim.
func DevPolicy() *Policy { return &Policy{AcceptSim: true} }

// Allows reports whether p accepts evidence of platform pl at all.
func (p *Policy) Allows(pl Platform) bool { return p.allowPlatform(pl) == nil }

func (p *Policy) allowPlatform(pl Platform) error {
	switch pl {
	case PlatformSim:
		if p.AcceptSim {
			return nil
		}
		return fmt.Errorf("platform %q is the simulated TEE, which proves no hardware isolation (accept it with --allow-sim or accept_sim = true): %w", pl, ErrPlatformNotAllowed)
	case PlatformTDX, PlatformSNP:
		if len(p.Platforms) == 0 || slices.Contains(p.Platforms, pl) {
			return nil
		}
		return fmt.Errorf("platform %q: %w", pl, ErrPlatformNotAllowed)
	}
	return fmt.Errorf("platform %q: %w", pl, ErrUnknownPlatform)
}

// Pins returns the measurement allow-lists p sets for platform pl, keyed by
// the register names of [Claims.Measurements]. Unpinned registers are absent.
func (p *Policy) Pins(pl Platform) map[string][]HexBytes {
	all := map[string][]HexBytes{}
	switch pl {
	case PlatformTDX:
		all = map[string][]HexBytes{"mrtd": p.TDX.MRTD, "rtmr0": p.TDX.RTMR0, "rtmr1": p.TDX.RTMR1,
			"rtmr2": p.TDX.RTMR2, "rtmr3": p.TDX.RTMR3, "mrconfigid": p.TDX.MRConfigID}
	case PlatformSNP:
		all = map[string][]HexBytes{"measurement": p.SNP.Measurement, "host_data": p.SNP.HostData}
	case PlatformSim:
		all = map[string][]HexBytes{"measurement": p.Sim.Measurement, "key": p.Sim.Keys}
	}
	for k, v := range all {
		if len(v) == 0 {
			delete(all, k)
		}
	}
	return all
}

// Pinned reports whether p pins any measurement of platform pl. Clients
// print "measurement: unpinned" when it does not.
func (p *Policy) Pinned(pl Platform) bool { return len(p.Pins(pl)) > 0 }

// Check applies the platform-independent rules of p to verified claims:
// platform, debug, pinned measurements and evidence age.
func (p *Policy) Check(c *Claims) error {
	if err := p.allowPlatform(c.Platform); err != nil {
		return err
	}
	if c.Debug && !p.AllowDebug {
		return fmt.Errorf("%s evidence: %w", c.Platform, ErrDebug)
	}
	for name, allowed := range p.Pins(c.Platform) {
		got, ok := c.Measurements[name]
		if !ok || !slices.ContainsFunc(allowed, func(a HexBytes) bool { return bytes.Equal(a, got) }) {
			return fmt.Errorf("%s %s %x: %w", c.Platform, name, []byte(got), ErrMeasurementMismatch)
		}
	}
	if p.MaxEvidenceAge > 0 && !c.IssuedAt.IsZero() {
		if age := p.now().Sub(c.IssuedAt); age > p.MaxEvidenceAge {
			return fmt.Errorf("%s evidence is %s old, policy allows %s: %w", c.Platform, age.Round(time.Second), p.MaxEvidenceAge, ErrEvidenceTooOld)
		}
	}
	return nil
}

func (p *Policy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}
