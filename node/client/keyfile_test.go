package client

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gas.key")
	created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	again, err := LoadOrCreateKeyFile(path)
	if err != nil || crypto.PubkeyToAddress(again.PublicKey) != crypto.PubkeyToAddress(created.PublicKey) {
		t.Fatalf("second load: %v, another key", err)
	}
	// A key file others may read is refused, not replaced.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeyFile(path); err == nil {
		t.Fatal("a world-readable key file was accepted")
	}
}
