package wasm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
)

// meteredScheme names how admission turns a module into the bytes wazero compiles: the
// scan's table clamp, then meter.Instrument with the executor's options. It changes
// whenever either changes the output for a given input, and is part of the key of the
// metered-module files, so that no file made by another scheme is ever used.
const meteredScheme = "agentnet/wasm/metered/v1"

// startFuel is the budget a metered instance holds before Run sets the run's: what a
// start section may spend during instantiation. It is baked into the metered module
// (hence part of its cache key), and Run counts what a start section spent of it.
const startFuel = meter.DefaultStartFuel

// meterOptions are the options every module is metered with; they determine the output
// together with the meter's Version.
func meterOptions() []meter.Option { return []meter.Option{meter.WithStartFuel(startFuel)} }

// meteredDirPrefix is the subdirectory of Config.CacheDir holding metered modules; the
// meter's Version is appended.
const meteredDirPrefix = "agentnet-meter-v"

// instrument meters an admitted module: it returns the bytes to compile for the scanned
// module wasm whose original SHA-256 is hash. With a CacheDir it first looks for the
// output of an earlier admission (of this or another executor sharing the directory):
// metering a Go guest takes about a tenth of a second, which a restart, or every node of
// a testnet, would otherwise pay for every module again.
func (e *Executor) instrument(hash [sha256.Size]byte, wasm []byte) ([]byte, error) {
	key, err := meteredKey(hash)
	if err != nil {
		return nil, fmt.Errorf("%w: meter module: %w", ErrInternal, err)
	}
	if e.meteredDir != "" {
		if out, ok := e.loadMetered(key); ok {
			return out, nil
		}
	}
	// The cap is the executor's, which the original already passed; the scan's table
	// clamp may have added a few bytes.
	out, err := meter.Instrument(wasm, append(meterOptions(), meter.WithMaxModuleSize(max(e.cfg.MaxModuleBytes, len(wasm))))...)
	switch {
	case errors.Is(err, meter.ErrRewrite):
		// A defect of the rewrite, not of the guest: say so, and log the detail.
		e.log.Error("meter wasm module", "module", shortHash(hash), "err", err)
		return nil, fmt.Errorf("%w: meter module: %s", ErrInternal, oneLine(err.Error()))
	case err != nil:
		return nil, fmt.Errorf("%w: %s", ErrInvalidModule, oneLine(err.Error()))
	}
	if e.meteredDir != "" {
		e.storeMetered(key, out)
	}
	return out, nil
}

// meteredKey is the name of a module's metered form: meter.CacheKey (the meter's Version
// and options) under the executor's own scheme.
func meteredKey(hash [sha256.Size]byte) ([sha256.Size]byte, error) {
	k, err := meter.CacheKey(hash, meterOptions()...)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	h := sha256.New()
	h.Write([]byte(meteredScheme))
	h.Write(k[:])
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key, nil
}

// meteredDirName returns the directory of metered modules inside a cache directory.
func meteredDirName(cacheDir string) string {
	return filepath.Join(cacheDir, meteredDirPrefix+strconv.Itoa(meter.Version))
}

func (e *Executor) meteredPath(key [sha256.Size]byte) string {
	return filepath.Join(e.meteredDir, hex.EncodeToString(key[:])+".wasm")
}

// loadMetered reads a stored metered module. A missing file is a miss; a file that does
// not decode (cut short by a crash, damaged) is a miss too, logged, and is replaced by
// the fresh output.
func (e *Executor) loadMetered(key [sha256.Size]byte) ([]byte, bool) {
	f, err := os.Open(e.meteredPath(key))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			e.log.Warn("read metered wasm module", "err", err)
		}
		return nil, false
	}
	defer f.Close()
	out, err := decodeMetered(f, e.maxMeteredBytes())
	if err != nil {
		e.log.Warn("ignore stored metered wasm module", "file", f.Name(), "err", err)
		return nil, false
	}
	return out, true
}

// storeMetered writes a metered module next to the compiled code: to a temporary file
// renamed into place, so that a reader sees a whole file or none. A failure only costs
// the next admission the metering again.
func (e *Executor) storeMetered(key [sha256.Size]byte, out []byte) {
	f, err := os.CreateTemp(e.meteredDir, ".tmp-*")
	if err != nil {
		e.log.Warn("store metered wasm module", "err", err)
		return
	}
	sum := sha256.Sum256(out)
	_, err = f.Write(out)
	if err == nil {
		_, err = f.Write(sum[:])
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), e.meteredPath(key))
	}
	if err != nil {
		_ = os.Remove(f.Name())
		e.log.Warn("store metered wasm module", "err", err)
	}
}

// staleTempAge is how old a temporary file of storeMetered must be before New removes
// it as left by a crash: younger ones may belong to another executor sharing the
// directory, writing right now.
const staleTempAge = time.Hour

// removeStaleTemps removes what storeMetered calls cut off by a crash left behind.
func removeStaleTemps(dir string, now time.Time) {
	temps, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	for _, name := range temps {
		if st, err := os.Stat(name); err == nil && now.Sub(st.ModTime()) > staleTempAge {
			_ = os.Remove(name)
		}
	}
}

// removeOldVersions removes the metered-module directories of other meter versions in
// cacheDir: after an upgrade nothing reads them again (the version is in the name), and
// each holds a metered copy of every module the node ever admitted.
func removeOldVersions(cacheDir, current string) {
	dirs, _ := filepath.Glob(filepath.Join(cacheDir, meteredDirPrefix+"*"))
	for _, dir := range dirs {
		if dir != current {
			_ = os.RemoveAll(dir)
		}
	}
}

// maxMeteredBytes caps a stored metered module: the meter's output is at most four times
// its input, which the executor caps at MaxModuleBytes (plus the scan's few bytes).
func (e *Executor) maxMeteredBytes() int { return 4*e.cfg.MaxModuleBytes + 4096 }

// decodeMetered reads what storeMetered wrote (the module, then its SHA-256), at most limit bytes of module, and checks
// the checksum, so that a torn or damaged file is never compiled. The directory is as
// private as wazero's compiled code beside it (Config.CacheDir); the checksum guards
// against accidents, not against someone who can write there.
func decodeMetered(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+sha256.Size+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("read metered module: %w", err)
	case len(b) > limit+sha256.Size:
		return nil, fmt.Errorf("metered module over %d bytes", limit)
	case len(b) <= sha256.Size:
		return nil, fmt.Errorf("metered module of %d bytes is cut short", len(b))
	}
	wasm, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(wasm); !bytes.Equal(got[:], sum) {
		return nil, errors.New("metered module does not match its checksum")
	}
	return wasm, nil
}
