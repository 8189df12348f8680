// Package jsonfile writes the small JSON files that programs of this module
// leave for people and scripts to read (dev.json, testnet.json): indented,
// private to their owner, and replaced whole.
package jsonfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Write writes v as indented JSON to path, mode 0600 (such files may hold
// keys). The file is written aside and renamed over path, so a reader never
// sees half of it and an older file's mode does not survive.
func Write(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
