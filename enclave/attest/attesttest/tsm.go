package attesttest

import (
	"fmt"
	"os"
	"path"
	"sync"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
)

// FakeTSM is an in-memory configfs-tsm report subsystem, a
// configfsi.Client like the kernel's /sys/kernel/config/tsm: entries are
// made with MkdirTemp, "inblob" is written, "outblob" and "auxblob" are
// produced by Quote, "provider" names the TEE, and "generation" counts
// writes. Safe for concurrent use.
type FakeTSM struct {
	// Provider is what "provider" reads, e.g. "tdx_guest" or "sev_guest".
	Provider string
	// Quote produces outblob and auxblob for an inblob.
	Quote func(inblob []byte) (outblob, auxblob []byte, err error)

	mu      sync.Mutex
	n       int
	entries map[string]*tsmEntry
}

type tsmEntry struct {
	inblob     []byte
	generation int
}

var _ configfsi.Client = (*FakeTSM)(nil)

const tsmReport = configfsi.TsmPrefix + "/report"

// MkdirTemp creates a report entry.
func (f *FakeTSM) MkdirTemp(dir, pattern string) (string, error) {
	if path.Clean(dir) != tsmReport {
		return "", fmt.Errorf("fake tsm: mkdir in %q: %w", dir, os.ErrPermission)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.entries == nil {
		f.entries = map[string]*tsmEntry{}
	}
	f.n++
	name := fmt.Sprintf("%s%d", pattern, f.n)
	f.entries[name] = &tsmEntry{}
	return path.Join(tsmReport, name), nil
}

func (f *FakeTSM) entry(name string) (*tsmEntry, string, error) {
	p, err := configfsi.ParseTsmPath(name)
	if err != nil {
		return nil, "", err
	}
	e, ok := f.entries[p.Entry]
	if !ok || p.Subsystem != "report" {
		return nil, "", os.ErrNotExist
	}
	return e, p.Attribute, nil
}

// ReadFile reads an entry attribute.
func (f *FakeTSM) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, attr, err := f.entry(name)
	if err != nil {
		return nil, err
	}
	switch attr {
	case "provider":
		return []byte(f.Provider + "\n"), nil
	case "generation":
		return []byte(fmt.Sprintf("%d\n", e.generation)), nil
	case "privlevel_floor":
		return []byte("0\n"), nil
	case "outblob", "auxblob":
		if f.Quote == nil {
			return nil, fmt.Errorf("fake tsm: no quote generation service")
		}
		out, aux, err := f.Quote(e.inblob)
		if err != nil {
			return nil, err
		}
		if attr == "auxblob" {
			return aux, nil
		}
		return out, nil
	}
	return nil, os.ErrNotExist
}

// WriteFile writes an entry attribute ("inblob" or "privlevel").
func (f *FakeTSM) WriteFile(name string, contents []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, attr, err := f.entry(name)
	if err != nil {
		return err
	}
	switch attr {
	case "inblob":
		if len(contents) > 64 {
			return fmt.Errorf("fake tsm: inblob of %d bytes", len(contents))
		}
		e.inblob = append([]byte(nil), contents...)
	case "privlevel":
	default:
		return fmt.Errorf("fake tsm: %q is not writable", attr)
	}
	e.generation++
	return nil
}

// RemoveAll removes an entry.
func (f *FakeTSM) RemoveAll(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := configfsi.ParseTsmPath(name)
	if err != nil {
		return err
	}
	if _, ok := f.entries[p.Entry]; !ok || p.Attribute != "" {
		return os.ErrNotExist
	}
	delete(f.entries, p.Entry)
	return nil
}

// Entries returns how many report entries exist, to check that probes and
// quotes clean up after themselves.
func (f *FakeTSM) Entries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.entries)
}

// TDXTSM returns a FakeTSM whose provider is tdx_guest and whose quotes
// are signed by root.
func TDXTSM(root *TDXRoot, o TDXQuoteOptions) *FakeTSM {
	return &FakeTSM{Provider: "tdx_guest", Quote: func(in []byte) ([]byte, []byte, error) {
		var rd [64]byte
		copy(rd[:], in)
		q, err := root.Quote(rd, o)
		return q, nil, err
	}}
}
