package bridge

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/node/api"
)

// FuzzDecodeHex checks the hex field decoders every route uses: a refusal
// is a 400 invalid_hex naming the field; an accepted value is exactly the
// hex it came from (either case, no prefix, even length), and an id is 16
// bytes.
func FuzzDecodeHex(f *testing.F) {
	for _, s := range []string{"", "00", "0x00", "ABcd", "abc", "zz", strings.Repeat("0f", 16), strings.Repeat("0f", 17), " 00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := decodeHex("encrypted_request", s)
		if err != nil {
			checkHexError(t, err, "encrypted_request")
		} else if hex.EncodeToString(b) != strings.ToLower(s) {
			t.Fatalf("decodeHex(%q) = %x", s, b)
		}
		id, err := decodeID("session_id", s)
		if err != nil {
			checkHexError(t, err, "session_id")
			return
		}
		if len(s) != 32 || hex.EncodeToString(id[:]) != strings.ToLower(s) {
			t.Fatalf("decodeID(%q) = %x", s, id)
		}
	})
}

func checkHexError(t *testing.T, err error, field string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != api.CodeInvalidHex || !strings.Contains(e.Message, field) {
		t.Fatalf("hex refusal %v", err)
	}
}
