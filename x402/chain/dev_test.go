package chain

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestDevInfoWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := DevInfo{RPCURL: "http://127.0.0.1:8545", ChainID: 1337, Network: "eip155:1337", PayerKey: "0x01"}
	if err := want.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("dev.json: %v %v, want mode 0600 (it holds a key)", info, err)
	}
	b, _ := os.ReadFile(path)
	var got DevInfo
	if err := json.Unmarshal(b, &got); err != nil || got != want {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("the temporary file stayed: %v", err)
	}
}
