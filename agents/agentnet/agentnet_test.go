package agentnet

import (
	"errors"
	"testing"
	"time"

	host "github.com/agentnet/agentnode/enclave/wasm/agentnet"
)

// The bindings' wasm side runs in agents/research's TestModule (a Go guest against the
// real host module); here, what a native build can check.

func TestNative(t *testing.T) {
	if Available() {
		t.Skip("a wasip1 build")
	}
	_, err := CallBest("q", nil, 1, 0)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeUnavailable || err.Error() != "agentnet: unavailable (-8)" {
		t.Fatalf("native CallBest: %v", err)
	}
	if _, err := Search("q", 0); err == nil {
		t.Fatal("native Search succeeded")
	}
	if _, err := Budget(); err == nil {
		t.Fatal("native Budget succeeded")
	}
}

func TestError(t *testing.T) {
	e := &Error{Code: CodeDenied, Message: "payer policy refused"}
	if e.Error() != "agentnet: denied (-3): payer policy refused" {
		t.Fatal(e.Error())
	}
	for c := int32(-1); c >= -9; c-- {
		if CodeName(c) == "error" {
			t.Errorf("code %d has no name", c)
		}
	}
}

func TestReceiptField(t *testing.T) {
	r := []byte(`{"peer":"12D3KooWx","agent":"arxiv","exit_code":0,"verified":true,"paid":"10000","transaction":"","odd":"a\"b"}`)
	for key, want := range map[string]string{"peer": "12D3KooWx", "agent": "arxiv", "paid": "10000", "transaction": "", "missing": "", "odd": ""} {
		if got := field(r, key); got != want {
			t.Errorf("field %s = %q, want %q", key, got, want)
		}
	}
}

func TestConversions(t *testing.T) {
	if price(1<<63) != 1<<63-1 || price(5) != 5 {
		t.Error("price")
	}
	for d, want := range map[time.Duration]int32{0: 0, -time.Second: 0, time.Microsecond: 1, 1500 * time.Millisecond: 1500, 1000 * time.Hour: 1<<31 - 1} {
		if got := millis(d); got != want {
			t.Errorf("millis(%v) = %d, want %d", d, got, want)
		}
	}
}

// TestABIMatchesTheHost pins the bindings' copy of the ABI numbers to the host module's:
// a guest cannot import the host package (it would pull wazero into every agent), so
// the numbers are written twice and must not drift apart.
func TestABIMatchesTheHost(t *testing.T) {
	for name, pair := range map[string][2]int64{
		"CodeBadArgument":    {CodeBadArgument, host.CodeBadArgument},
		"CodeNotFound":       {CodeNotFound, host.CodeNotFound},
		"CodeDenied":         {CodeDenied, host.CodeDenied},
		"CodeDepth":          {CodeDepth, host.CodeDepth},
		"CodeRemote":         {CodeRemote, host.CodeRemote},
		"CodeTimeout":        {CodeTimeout, host.CodeTimeout},
		"CodeBufferTooSmall": {CodeBufferTooSmall, host.CodeBufferTooSmall},
		"CodeUnavailable":    {CodeUnavailable, host.CodeUnavailable},
		"CodeLimit":          {CodeLimit, host.CodeLimit},
		"FieldOutput":        {fieldOutput, host.FieldOutput},
		"FieldReceipt":       {fieldReceipt, host.FieldReceipt},
		"FieldCommitment":    {fieldCommitment, host.FieldCommitment},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s: the bindings say %d, the host %d", name, pair[0], pair[1])
		}
	}
}
