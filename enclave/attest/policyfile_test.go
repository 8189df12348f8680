package attest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var fullPolicy = `
platforms = ["tdx", "snp"]
accept_sim = false
allow_debug = false
max_evidence_age = "1h30m"

[tdx]
mrtd = ["` + hex48 + `"]
rtmr0 = ["` + hex48 + `", "0x` + hex48 + `"]
rtmr1 = []
rtmr2 = []
rtmr3 = []
mrconfigid = []
min_tee_tcb_svn = "03000500000000000000000000000000"

[snp]
measurement = ["` + hex48 + `"]
host_data = ["` + hex32 + `"]
min_tcb = 0x0b00000000000302
vmpl = 0

[sim]
measurement = []
keys = ["` + hex32 + `"]
`

var (
	hex48 = strings.Repeat("ab", 48)
	hex32 = strings.Repeat("cd", 32)
)

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy([]byte(fullPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxEvidenceAge != 90*time.Minute || len(p.TDX.RTMR0) != 2 || p.SNP.MinTCB != 0x0b00000000000302 || p.SNP.VMPL == nil || *p.SNP.VMPL != 0 {
		t.Errorf("policy = %+v", p)
	}
	if !p.Pinned(PlatformTDX) || !p.Pinned(PlatformSNP) || p.Allows(PlatformSim) {
		t.Error("pins or platforms wrong")
	}
	empty, err := ParsePolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	if empty.Pinned(PlatformTDX) || !empty.Allows(PlatformTDX) || empty.Allows(PlatformSim) {
		t.Error("empty policy is not the default policy")
	}
}

func TestParsePolicyRejects(t *testing.T) {
	for name, src := range map[string]string{
		"unknown key":       `acept_sim = true`,
		"unknown table key": "[tdx]\nmrtd_typo = []",
		"wrong type":        `accept_sim = "yes"`,
		"bad hex":           "[tdx]\nmrtd = [\"zz\"]",
		"short mrtd":        "[tdx]\nmrtd = [\"abcd\"]",
		"short host data":   "[snp]\nhost_data = [\"" + hex48 + "\"]",
		"vmpl out of range": "[snp]\nvmpl = 4",
		"sim as platform":   `platforms = ["sim"]`,
		"unknown platform":  `platforms = ["sgx"]`,
		"negative age":      `max_evidence_age = "-1s"`,
		"bad svn size":      "[tdx]\nmin_tee_tcb_svn = \"0300\"",
		"not toml":          `{"accept_sim": true}`,
		"oversized":         strings.Repeat("#", MaxPolicySize+1),
	} {
		t.Run(name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(src))
			if !errors.Is(err, ErrInvalidPolicy) || p != nil {
				t.Fatalf("ParsePolicy = %v, %v; want ErrInvalidPolicy", p, err)
			}
		})
	}
}

func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.toml")
	if err := os.WriteFile(path, []byte(fullPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPolicy(path); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPolicy(filepath.Join(dir, "missing.toml")); err == nil {
		t.Error("missing file loaded")
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", MaxPolicySize+10)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPolicy(big); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("oversized file: %v", err)
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(fullPolicy))
	f.Add([]byte(""))
	f.Add([]byte("accept_sim = true\n[sim]\nkeys = [\"" + hex32 + "\"]"))
	f.Add([]byte("[snp]\nvmpl = -1"))
	f.Add([]byte("max_evidence_age = 3600000000000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err != nil {
			if p != nil {
				t.Fatal("policy returned with an error")
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed policy does not validate: %v", err)
		}
	})
}
