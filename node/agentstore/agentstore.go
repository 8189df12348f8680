// Package agentstore keeps the agents deployed on a node: the directory
// app_path of the node's config, one subdirectory per agent holding its
// WebAssembly module (agent.wasm) and its manifest (agent.toml, see
// [Manifest]). It loads and validates them when the node starts, deploys
// new ones (uploaded, or copied into app_path by an operator), withdraws
// them, and resolves agent names to compiled modules for the enclave
// ([Store.ResolveAgent] implements enclave.AgentResolver).
//
// Writes are crash-safe: an uploaded module is stored once under its
// SHA-256 in app_path/.modules, an agent directory is assembled under a
// temporary name and renamed into place, and a withdrawn agent keeps its
// files with a .withdrawn marker, so that a restart advertises exactly what
// was deployed before it. Publishing cards is the node's business, not
// this package's.
package agentstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/p2p/card"
)

// File names inside app_path.
const (
	// ManifestFile and ModuleFile are an agent directory's two files.
	ManifestFile = "agent.toml"
	ModuleFile   = "agent.wasm"
	// WithdrawnFile marks a withdrawn agent: its files stay, the node
	// neither advertises nor runs it.
	WithdrawnFile = ".withdrawn"
	// ModulesDir holds uploaded modules under their SHA-256.
	ModulesDir = ".modules"
	tmpPrefix  = ".tmp-"
	oldPrefix  = ".old-"
)

// MaxAgents bounds the agents deployed at once: a node's card index names
// at most that many.
const MaxAgents = card.MaxIndexNames

// DefaultMaxModuleBytes is the module size cap when Config leaves it zero,
// the executor's default.
const DefaultMaxModuleBytes = 4 << 20

// Compiler validates and compiles modules; *wasm.Executor implements it.
type Compiler interface {
	Compile(ctx context.Context, wasm []byte) (*wasm.Module, error)
	// Cached returns the compiled module of the bytes with this SHA-256,
	// if it holds one: the store knows each agent's hash, so an agent
	// request does not hash megabytes of module again.
	Cached(hash [32]byte) (*wasm.Module, bool)
}

// Config configures a Store. Dir and Compiler are required.
type Config struct {
	// Dir is app_path; it is created (mode 0700) when missing.
	Dir string
	// Compiler validates modules at load and deploy, and compiles them
	// when an agent runs.
	Compiler Compiler
	// MaxModuleBytes caps a module. Default DefaultMaxModuleBytes.
	MaxModuleBytes int
	// MaxTimeout is the node's execution limit; an agent's own
	// limits.timeout may not exceed it. Zero: no cap.
	MaxTimeout time.Duration
	// Admit, when set, refuses manifests the node cannot serve, such as a
	// price without payment support; its error is an ErrBadManifest.
	Admit func(*Manifest) error
	// Logger receives load and deploy events. Nil discards them.
	Logger *slog.Logger
}

// Agent is an agent in app_path.
type Agent struct {
	Manifest
	// ModuleSHA256 is the SHA-256 of the module: what its card advertises
	// and result commitments bind.
	ModuleSHA256 [32]byte
	ModuleSize   int
	// Deployed is false for a withdrawn agent.
	Deployed bool

	module []byte // nil while withdrawn
}

// Store is the agents of one app_path. It is safe for concurrent use.
type Store struct {
	cfg Config
	log *slog.Logger

	// opMu serializes deploys and withdrawals, which touch the disk; mu
	// guards agents only briefly, so that runs never wait on a deploy.
	opMu sync.Mutex

	mu     sync.RWMutex
	agents map[string]*Agent
}

// Open loads every agent directory of cfg.Dir: it finishes or undoes
// deploys a crash interrupted, reads each agent's manifest and module,
// compiles the modules of deployed agents, and removes stored modules no
// agent uses. A directory that does not load is an error naming it: a node
// must not start advertising less than its operator deployed.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	switch {
	case cfg.Dir == "":
		return nil, errors.New("open agent store: no directory")
	case cfg.Compiler == nil:
		return nil, errors.New("open agent store: no compiler")
	}
	if cfg.MaxModuleBytes <= 0 {
		cfg.MaxModuleBytes = DefaultMaxModuleBytes
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{cfg: cfg, log: log, agents: map[string]*Agent{}}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open agent store: %w", err)
	}
	if err := s.recover(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open agent store: %w", err)
	}
	deployed := 0
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		a, err := s.load(e.Name())
		if err == nil && a.Deployed {
			err = s.validate(ctx, a)
		}
		if err != nil {
			return nil, fmt.Errorf("open agent store: %w", err)
		}
		if !a.Deployed {
			a.module = nil
		}
		if a.Deployed {
			if deployed++; deployed > MaxAgents {
				return nil, fmt.Errorf("open agent store: more than %d deployed agents in %s: %w", MaxAgents, cfg.Dir, ErrTooManyAgents)
			}
		}
		s.agents[a.Name] = a
		log.Info("agent loaded", "agent", a.Name, "module", shortHash(a.ModuleSHA256), "deployed", a.Deployed)
	}
	s.collect()
	return s, nil
}

// Dir returns app_path.
func (s *Store) Dir() string { return s.cfg.Dir }

// List returns every agent in app_path, deployed or withdrawn, by name.
func (s *Store) List() []Agent {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Agent, 0, len(s.agents))
	for _, name := range slices.Sorted(maps.Keys(s.agents)) {
		out = append(out, *s.agents[name])
	}
	return out
}

// Deployed returns the deployed agents, by name.
func (s *Store) Deployed() []Agent {
	return slices.DeleteFunc(s.List(), func(a Agent) bool { return !a.Deployed })
}

// Get returns agent name.
func (s *Store) Get(name string) (Agent, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.agents[name]
	if !ok {
		return Agent{}, false
	}
	return *a, true
}

// ResolveAgent returns the compiled module of a deployed agent; it
// implements enclave.AgentResolver. Compiling hits the executor's cache
// unless the module was evicted, in which case it is compiled again.
func (s *Store) ResolveAgent(ctx context.Context, name string) (*wasm.Module, error) {
	s.mu.RLock()
	a, ok := s.agents[name]
	var module []byte
	var sum [32]byte
	if ok && a.Deployed {
		module, sum = a.module, a.ModuleSHA256
	}
	s.mu.RUnlock()
	if module == nil {
		return nil, fmt.Errorf("agent %q: %w", name, enclave.ErrUnknownAgent)
	}
	if m, ok := s.cfg.Compiler.Cached(sum); ok {
		return m, nil
	}
	return s.cfg.Compiler.Compile(ctx, module)
}

// Deploy deploys agent name from its directory in app_path: it reads the
// files again (an operator may have copied in a new version), validates
// them, and clears a withdrawal. changed is false when the agent was
// already deployed with the same module and manifest.
func (s *Store) Deploy(ctx context.Context, name string) (a Agent, changed bool, err error) {
	if err := card.CheckName(name); err != nil {
		return Agent{}, false, fmt.Errorf("deploy: %v: %w", err, ErrNotFound)
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	next, err := s.load(name)
	if errors.Is(err, fs.ErrNotExist) {
		return Agent{}, false, fmt.Errorf("deploy %q: %w (%s)", name, ErrNotFound, s.cfg.Dir)
	}
	if err != nil {
		return Agent{}, false, fmt.Errorf("deploy: %w", err)
	}
	if err := s.validate(ctx, next); err != nil {
		return Agent{}, false, fmt.Errorf("deploy: %w", err)
	}
	if cur, ok := s.Get(name); ok && cur.Deployed && cur.same(next) {
		return cur, false, nil
	}
	if err := s.checkCount(name); err != nil {
		return Agent{}, false, err
	}
	if !next.Deployed {
		if err := removeSynced(filepath.Join(s.cfg.Dir, name, WithdrawnFile)); err != nil {
			return Agent{}, false, fmt.Errorf("deploy %q: %w", name, err)
		}
		next.Deployed = true
	}
	s.put(next)
	s.log.Info("agent deployed", "agent", name, "module", shortHash(next.ModuleSHA256), "from", "app_path")
	return *next, true, nil
}

// Upload deploys an agent from its manifest text and module: it validates
// both (the module must compile), stores the module under its SHA-256,
// assembles the agent's directory and renames it into place, replacing a
// previous version. changed is false when the same agent was already
// deployed; nothing is written then.
func (s *Store) Upload(ctx context.Context, manifest, module []byte) (a Agent, changed bool, err error) {
	m, err := ParseManifest(manifest)
	if err != nil {
		return Agent{}, false, fmt.Errorf("upload: %w", err)
	}
	if len(module) > s.cfg.MaxModuleBytes {
		return Agent{}, false, fmt.Errorf("upload %q: module of %d bytes: %w (cap %d)", m.Name, len(module), wasm.ErrModuleTooLarge, s.cfg.MaxModuleBytes)
	}
	next := &Agent{Manifest: *m, ModuleSHA256: sha256.Sum256(module), ModuleSize: len(module), Deployed: true, module: module}
	if err := s.validate(ctx, next); err != nil {
		return Agent{}, false, fmt.Errorf("upload: %w", err)
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if cur, ok := s.Get(m.Name); ok && cur.Deployed && cur.same(next) {
		return cur, false, nil
	}
	if err := s.checkCount(m.Name); err != nil {
		return Agent{}, false, err
	}
	if err := s.install(m.Name, manifest, module, next.ModuleSHA256); err != nil {
		return Agent{}, false, fmt.Errorf("upload %q: %w", m.Name, err)
	}
	s.put(next)
	s.collect()
	s.log.Info("agent deployed", "agent", m.Name, "module", shortHash(next.ModuleSHA256), "from", "upload")
	return *next, true, nil
}

// Withdraw stops agent name: it is no longer run or listed as deployed,
// and its directory gets the .withdrawn marker so a restart keeps it
// withdrawn. Its files stay; Deploy(name) brings it back. changed is false
// when it was already withdrawn.
func (s *Store) Withdraw(name string) (a Agent, changed bool, err error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	cur, ok := s.Get(name)
	switch {
	case !ok:
		return Agent{}, false, fmt.Errorf("withdraw %q: %w", name, ErrNotFound)
	case !cur.Deployed:
		return cur, false, nil
	}
	if err := writeFileSynced(filepath.Join(s.cfg.Dir, name, WithdrawnFile), nil); err != nil {
		return Agent{}, false, fmt.Errorf("withdraw %q: %w", name, err)
	}
	cur.Deployed, cur.module = false, nil
	s.put(&cur)
	s.log.Info("agent withdrawn", "agent", name)
	return cur, true, nil
}

func (s *Store) put(a *Agent) {
	s.mu.Lock()
	s.agents[a.Name] = a
	s.mu.Unlock()
}

// checkCount refuses a deploy of name that would exceed MaxAgents.
func (s *Store) checkCount(name string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for other, a := range s.agents {
		if a.Deployed && other != name {
			n++
		}
	}
	if n >= MaxAgents {
		return fmt.Errorf("deploy %q: %d agents deployed, cap %d; withdraw one first: %w", name, n, MaxAgents, ErrTooManyAgents)
	}
	return nil
}

func (s *Store) checkLimits(m *Manifest) error {
	if t := m.Limits.Timeout.Duration; s.cfg.MaxTimeout > 0 && t > s.cfg.MaxTimeout {
		return fmt.Errorf("manifest of %q: limits.timeout %s exceeds the node's wasm_timeout %s: %w", m.Name, t, s.cfg.MaxTimeout, ErrBadManifest)
	}
	return nil
}

// same reports whether two agents have the same module and manifest.
func (a *Agent) same(b *Agent) bool {
	return a.ModuleSHA256 == b.ModuleSHA256 && a.Manifest.equal(&b.Manifest)
}

func shortHash(h [32]byte) string { return hex.EncodeToString(h[:6]) }
