package token

import (
	"encoding/json"
	"strings"
	"testing"
)

// The generated bindings and the embedded artifacts come from the same
// compiler run; a stale bindings.go would deploy different code.
func TestArtifactsMatchBindings(t *testing.T) {
	code, err := Bytecode()
	if err != nil {
		t.Fatal(err)
	}
	if len(code) < 1000 {
		t.Fatalf("bytecode is %d bytes", len(code))
	}
	if got := strings.TrimPrefix(TestTokenMetaData.Bin, "0x"); got != strings.TrimSpace(binHex) {
		t.Fatal("bindings.go bytecode differs from TestToken.bin: rerun contracts/build.sh")
	}
	var a, b any
	if err := json.Unmarshal([]byte(ABIJSON), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(TestTokenMetaData.ABI), &b); err != nil {
		t.Fatal(err)
	}
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	if string(aj) != string(bj) {
		t.Fatal("bindings.go ABI differs from TestToken.abi: rerun contracts/build.sh")
	}
	for _, m := range []string{"transferWithAuthorization", "transferWithAuthorization0", "receiveWithAuthorization", "cancelAuthorization", "authorizationState", "DOMAIN_SEPARATOR", "name", "version", "decimals", "mint"} {
		if _, ok := NewTestToken().GetABI().Methods[m]; !ok {
			t.Errorf("ABI lacks %s", m)
		}
	}
}
