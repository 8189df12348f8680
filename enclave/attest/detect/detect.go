// Package detect picks the TEE implementation: at start, which Attester
// this machine can use (`tee = "auto" | "tdx" | "snp" | "sim"`), and for a
// piece of evidence, which verifier applies ([VerifyRaw], used by
// `agentnode attest verify` and `agentnode receipt verify`).
//
// Detection reads the provider of a configfs-tsm report entry (tdx_guest
// or sev_guest) and falls back to the /dev/sev-guest device for SEV-SNP
// kernels without configfs-tsm. TDX needs configfs-tsm: the older TDX
// quote ioctl is not supported upstream and is never used.
package detect

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
	"github.com/google/go-configfs-tsm/configfs/linuxtsm"
	sevclient "github.com/google/go-sev-guest/client"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/snp"
	"github.com/agentnet/agentnode/enclave/attest/tdx"
)

// The values of the node's `tee` setting.
const (
	ModeAuto = "auto"
	ModeTDX  = "tdx"
	ModeSNP  = "snp"
	ModeSim  = "sim"
)

// Default kernel interfaces.
const (
	DefaultTSMDir         = configfsi.TsmPrefix + "/report"
	DefaultSevGuestDevice = "/dev/sev-guest"
)

// Config says where to look. The zero value (plus TEE) looks at the
// kernel's real interfaces.
type Config struct {
	// TEE is "auto" (the default when empty), "tdx", "snp" or "sim".
	TEE string
	// TSM is the configfs-tsm client; nil means the kernel's, if TSMDir
	// exists.
	TSM configfsi.Client
	// TSMDir is the configfs-tsm report directory checked when TSM is nil;
	// empty means DefaultTSMDir.
	TSMDir string
	// SevGuestDevice is the SEV-SNP guest device; empty means
	// DefaultSevGuestDevice.
	SevGuestDevice string
	// SNPProvider, if set, replaces go-sev-guest's own choice of quote
	// provider once SEV-SNP is detected (tests, special kernels).
	SNPProvider sevclient.QuoteProvider
	// Sim is the simulated TEE used for tee = "sim"; the node makes it,
	// since it holds the key the simulator signs with.
	Sim attest.Attester
	// Logger records what was found; nil discards.
	Logger *slog.Logger
}

func (c *Config) fill() {
	if c.TEE == "" {
		c.TEE = ModeAuto
	}
	if c.TSMDir == "" {
		c.TSMDir = DefaultTSMDir
	}
	if c.SevGuestDevice == "" {
		c.SevGuestDevice = DefaultSevGuestDevice
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Detect returns the hardware TEE this machine offers: PlatformTDX or
// PlatformSNP, or an error wrapping attest.ErrNoTEE whose message names
// what was looked for and suggests tee = "sim".
func Detect(cfg Config) (attest.Platform, error) {
	cfg.fill()
	pl, _, err := detect(&cfg)
	return pl, err
}

// detect also returns the configfs-tsm client it probed, if any.
func detect(cfg *Config) (attest.Platform, configfsi.Client, error) {
	client := cfg.TSM
	if client == nil {
		if _, err := os.Stat(cfg.TSMDir); err == nil {
			client, _ = linuxtsm.MakeClient()
		}
	}
	var probeErr error
	if client != nil {
		provider, err := tdx.ProbeProvider(client)
		switch {
		case err != nil:
			probeErr = err
		case provider == tdx.Provider:
			return attest.PlatformTDX, client, nil
		case provider == "sev_guest":
			return attest.PlatformSNP, client, nil
		default:
			probeErr = fmt.Errorf("configfs-tsm provider %q is not tdx_guest or sev_guest", provider)
		}
	}
	if _, err := os.Stat(cfg.SevGuestDevice); err == nil {
		return attest.PlatformSNP, nil, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		probeErr = errors.Join(probeErr, err)
	}
	msg := fmt.Sprintf("no TEE found (looked for configfs-tsm tdx_guest/sev_guest in %s and %s); run with tee = \"sim\" for development", cfg.TSMDir, cfg.SevGuestDevice)
	if probeErr != nil {
		return "", nil, fmt.Errorf("%s: %w: %w", msg, attest.ErrNoTEE, probeErr)
	}
	return "", nil, fmt.Errorf("%s: %w", msg, attest.ErrNoTEE)
}

// Open returns the Attester for cfg.TEE. "auto" picks the hardware TEE
// found and never falls back to the simulator: a production node refuses
// to start without a TEE, with an error naming tee = "sim".
func Open(cfg Config) (attest.Attester, error) {
	cfg.fill()
	switch cfg.TEE {
	case ModeSim:
		if cfg.Sim == nil {
			return nil, errors.New(`open tee "sim": no simulated attester configured`)
		}
		cfg.Logger.Warn("using the simulated TEE: evidence proves no hardware isolation")
		return cfg.Sim, nil
	case ModeAuto, ModeTDX, ModeSNP:
	default:
		return nil, fmt.Errorf("open tee %q: want auto, tdx, snp or sim: %w", cfg.TEE, attest.ErrUnknownPlatform)
	}
	pl, client, err := detect(&cfg)
	if err != nil {
		if cfg.TEE != ModeAuto {
			return nil, fmt.Errorf("open tee %q: %w", cfg.TEE, err)
		}
		return nil, err
	}
	if cfg.TEE != ModeAuto && string(pl) != cfg.TEE {
		return nil, fmt.Errorf("open tee %q: this machine is a %s guest: %w", cfg.TEE, pl, attest.ErrNoTEE)
	}
	cfg.Logger.Info("tee detected", "platform", pl)
	switch pl {
	case attest.PlatformTDX:
		qp, err := tdx.NewConfigFSProvider(client)
		if err != nil {
			return nil, fmt.Errorf("open tee tdx: %w", err)
		}
		return tdx.NewAttester(qp, tdx.WithLogger(cfg.Logger)), nil
	default:
		if cfg.SNPProvider != nil {
			return snp.NewAttester(cfg.SNPProvider, snp.WithLogger(cfg.Logger)), nil
		}
		a, err := snp.OpenAttester(snp.WithLogger(cfg.Logger))
		if err != nil {
			return nil, fmt.Errorf("open tee snp: %w", err)
		}
		return a, nil
	}
}
