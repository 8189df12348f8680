package agentstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentnet/agentnode/enclave/wasm"
)

// load reads agent name's directory: manifest, module and withdrawal
// marker. It compiles nothing. A missing directory is fs.ErrNotExist.
func (s *Store) load(name string) (*Agent, error) {
	dir := filepath.Join(s.cfg.Dir, name)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("agent %q: %w", name, err)
	}
	raw, err := readCapped(filepath.Join(dir, ManifestFile), MaxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("agent %q: no %s in %s: %w", name, ManifestFile, dir, ErrBadAgentDir)
	}
	if err != nil {
		return nil, fmt.Errorf("agent %q: %w: %w", name, ErrBadManifest, err)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("agent %q: %w", name, err)
	}
	if m.Name != name {
		return nil, fmt.Errorf("agent directory %q holds the manifest of %q: %w", name, m.Name, ErrBadAgentDir)
	}
	module, err := readCapped(filepath.Join(dir, ModuleFile), s.cfg.MaxModuleBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("agent %q: no %s in %s: %w", name, ModuleFile, dir, ErrBadAgentDir)
	case errors.Is(err, errTooLarge):
		return nil, fmt.Errorf("agent %q: %w: %w", name, wasm.ErrModuleTooLarge, err)
	case err != nil:
		return nil, fmt.Errorf("agent %q: %w", name, err)
	}
	a := &Agent{Manifest: *m, ModuleSHA256: sha256.Sum256(module), ModuleSize: len(module), Deployed: true, module: module}
	switch _, err := os.Stat(filepath.Join(dir, WithdrawnFile)); {
	case err == nil:
		a.Deployed = false
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("agent %q: %w", name, err)
	}
	return a, nil
}

// validate checks an agent's limits against the node's and compiles its
// module.
func (s *Store) validate(ctx context.Context, a *Agent) error {
	if err := s.checkLimits(&a.Manifest); err != nil {
		return err
	}
	if s.cfg.Admit != nil {
		if err := s.cfg.Admit(&a.Manifest); err != nil {
			return fmt.Errorf("agent %q: %v: %w", a.Name, err, ErrBadManifest)
		}
	}
	if _, err := s.cfg.Compiler.Compile(ctx, a.module); err != nil {
		return fmt.Errorf("agent %q: %w", a.Name, err)
	}
	return nil
}

// install writes agent name's directory: the module into the
// content-addressed store, then a new directory with the module (a hard
// link to the stored copy where the file system allows) and the manifest
// text, renamed over the previous version.
func (s *Store) install(name string, manifest, module []byte, sum [32]byte) (err error) {
	blob, err := s.storeModule(module, sum)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(s.cfg.Dir, tmpPrefix)
	if err != nil {
		return fmt.Errorf("stage agent directory: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Link(blob, filepath.Join(tmp, ModuleFile)); err != nil {
		if err := writeFileSynced(filepath.Join(tmp, ModuleFile), module); err != nil {
			return err
		}
	}
	if err := writeFileSynced(filepath.Join(tmp, ManifestFile), manifest); err != nil {
		return err
	}
	target := filepath.Join(s.cfg.Dir, name)
	old := ""
	if _, err := os.Stat(target); err == nil {
		old = filepath.Join(s.cfg.Dir, oldPrefix+name+"-"+randomSuffix())
		if err := os.Rename(target, old); err != nil {
			return fmt.Errorf("move previous version aside: %w", err)
		}
	}
	if err := os.Rename(tmp, target); err != nil {
		if old != "" {
			_ = os.Rename(old, target)
		}
		return fmt.Errorf("install agent directory: %w", err)
	}
	syncDir(s.cfg.Dir)
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			s.log.Warn("remove previous agent version", "dir", old, "err", err)
		}
	}
	return nil
}

// storeModule writes module to .modules/<sha256>.wasm unless an intact
// copy is there, and returns its path.
func (s *Store) storeModule(module []byte, sum [32]byte) (string, error) {
	dir := filepath.Join(s.cfg.Dir, ModulesDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("store module: %w", err)
	}
	path := filepath.Join(dir, hex.EncodeToString(sum[:])+".wasm")
	if b, err := readCapped(path, s.cfg.MaxModuleBytes); err == nil && sha256.Sum256(b) == sum {
		return path, nil
	}
	if err := writeFileSynced(path, module); err != nil {
		return "", fmt.Errorf("store module: %w", err)
	}
	return path, nil
}

// recover finishes what a crash interrupted: staged directories are
// removed, and a previous version moved aside is put back when its
// replacement never arrived, else removed.
func (s *Store) recover() error {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("open agent store: %w", err)
	}
	for _, e := range entries {
		path := filepath.Join(s.cfg.Dir, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), tmpPrefix):
			if err := os.RemoveAll(path); err != nil {
				return fmt.Errorf("open agent store: remove staged %s: %w", path, err)
			}
		case strings.HasPrefix(e.Name(), oldPrefix):
			rest := strings.TrimPrefix(e.Name(), oldPrefix)
			i := strings.LastIndexByte(rest, '-')
			if i <= 0 {
				continue
			}
			target := filepath.Join(s.cfg.Dir, rest[:i])
			if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
				s.log.Warn("restore agent directory after an interrupted deploy", "agent", rest[:i])
				if err := os.Rename(path, target); err != nil {
					return fmt.Errorf("open agent store: restore %s: %w", target, err)
				}
				continue
			}
			if err := os.RemoveAll(path); err != nil {
				return fmt.Errorf("open agent store: remove %s: %w", path, err)
			}
		}
	}
	return nil
}

// collect removes stored modules that no agent in app_path uses.
func (s *Store) collect() {
	dir := filepath.Join(s.cfg.Dir, ModulesDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	used := map[string]bool{}
	s.mu.RLock()
	for _, a := range s.agents {
		used[hex.EncodeToString(a.ModuleSHA256[:])+".wasm"] = true
	}
	s.mu.RUnlock()
	for _, e := range entries {
		if !used[e.Name()] {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				s.log.Warn("remove unused module", "file", e.Name(), "err", err)
			}
		}
	}
}

var errTooLarge = errors.New("file too large")

// readCapped reads a file of at most max bytes.
func readCapped(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > max {
		return nil, fmt.Errorf("%s is over %d bytes: %w", path, max, errTooLarge)
	}
	return b, nil
}

// writeFileSynced writes path atomically and durably: a temporary file in
// the same directory, synced, renamed over path, and the directory synced.
func writeFileSynced(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tmpPrefix+"file-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// removeSynced removes path (absent is fine) and syncs its directory.
func removeSynced(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes a directory's entries durable. It is best effort: some
// file systems refuse to sync directories, and the rename it follows is
// atomic either way.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WriteAgent writes an agent directory into appPath as a Store reads it:
// <appPath>/<m.Name>/agent.toml (m, encoded) and agent.wasm (module), private
// to the user. It is how programs and tests lay out an app_path; a running
// node takes a new or changed directory at its next Deploy.
func WriteAgent(appPath string, m Manifest, module []byte) error {
	manifest, err := m.Encode()
	if err != nil {
		return fmt.Errorf("write agent %q: %w", m.Name, err)
	}
	// What the store would refuse to load is not written: a bad name
	// could also leave appPath.
	if _, err := ParseManifest(manifest); err != nil {
		return fmt.Errorf("write agent %q: %w", m.Name, err)
	}
	dir := filepath.Join(appPath, m.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write agent %q: %w", m.Name, err)
	}
	for file, data := range map[string][]byte{ManifestFile: manifest, ModuleFile: module} {
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o600); err != nil {
			return fmt.Errorf("write agent %q: %w", m.Name, err)
		}
	}
	return nil
}
