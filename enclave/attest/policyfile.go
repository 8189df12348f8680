package attest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// MaxPolicySize caps a policy file. Real policies are a few hundred bytes
// of pinned hex values.
const MaxPolicySize = 64 << 10

// Sizes of the values a policy pins, in bytes.
const (
	tdxRegisterSize  = 48
	tdxTCBSVNSize    = 16
	snpMeasureSize   = 48
	snpHostDataSize  = 32
	simMeasureSize   = 48
	simKeySize       = 32
	maxPinsPerRegKey = 1024
)

// LoadPolicy reads and validates a policy file (TOML, see docs/policy.md).
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy decodes a TOML policy strictly: unknown keys, wrong types,
// malformed hex and values of the wrong size are errors wrapping
// ErrInvalidPolicy, and nothing is returned with them.
func ParsePolicy(b []byte) (*Policy, error) {
	if len(b) > MaxPolicySize {
		return nil, fmt.Errorf("parse policy: %d bytes, limit %d: %w", len(b), MaxPolicySize, ErrInvalidPolicy)
	}
	var p Policy
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&p)
	if err != nil {
		return nil, fmt.Errorf("parse policy: %w: %v", ErrInvalidPolicy, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("parse policy: unknown key %s: %w", strings.Join(keys, ", "), ErrInvalidPolicy)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("parse policy: %w", err)
	}
	return &p, nil
}

// Validate reports whether p's values are possible: known platform names,
// pinned values of the register's size, a VMPL of 0-3, a non-negative
// evidence age. Errors wrap ErrInvalidPolicy.
func (p *Policy) Validate() error {
	var errs []error
	for _, pl := range p.Platforms {
		switch pl {
		case PlatformTDX, PlatformSNP:
		case PlatformSim:
			errs = append(errs, errors.New(`platforms: "sim" is not a hardware platform; set accept_sim = true instead`))
		default:
			errs = append(errs, fmt.Errorf("platforms: unknown platform %q (want tdx or snp)", pl))
		}
	}
	if p.MaxEvidenceAge < 0 {
		errs = append(errs, fmt.Errorf("max_evidence_age: %s is negative", p.MaxEvidenceAge))
	}
	pins := func(key string, vals []HexBytes, size int) {
		if len(vals) > maxPinsPerRegKey {
			errs = append(errs, fmt.Errorf("%s: %d values, limit %d", key, len(vals), maxPinsPerRegKey))
		}
		for i, v := range vals {
			if len(v) != size {
				errs = append(errs, fmt.Errorf("%s[%d]: %d bytes, want %d", key, i, len(v), size))
			}
		}
	}
	pins("tdx.mrtd", p.TDX.MRTD, tdxRegisterSize)
	pins("tdx.rtmr0", p.TDX.RTMR0, tdxRegisterSize)
	pins("tdx.rtmr1", p.TDX.RTMR1, tdxRegisterSize)
	pins("tdx.rtmr2", p.TDX.RTMR2, tdxRegisterSize)
	pins("tdx.rtmr3", p.TDX.RTMR3, tdxRegisterSize)
	pins("tdx.mrconfigid", p.TDX.MRConfigID, tdxRegisterSize)
	if n := len(p.TDX.MinTeeTCBSVN); n != 0 && n != tdxTCBSVNSize {
		errs = append(errs, fmt.Errorf("tdx.min_tee_tcb_svn: %d bytes, want %d", n, tdxTCBSVNSize))
	}
	pins("snp.measurement", p.SNP.Measurement, snpMeasureSize)
	pins("snp.host_data", p.SNP.HostData, snpHostDataSize)
	if v := p.SNP.VMPL; v != nil && (*v < 0 || *v > 3) {
		errs = append(errs, fmt.Errorf("snp.vmpl: %d is not 0-3", *v))
	}
	pins("sim.measurement", p.Sim.Measurement, simMeasureSize)
	pins("sim.keys", p.Sim.Keys, simKeySize)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidPolicy, errors.Join(errs...))
	}
	return nil
}
