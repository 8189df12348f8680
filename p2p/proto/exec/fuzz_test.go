package exec

import (
	"encoding/json"
	"testing"

	"github.com/agentnet/agentnode/p2p"
)

// FuzzDecodeRequest runs the server's request decoding and checks on
// arbitrary frames: no panic, and an accepted request re-encodes to one
// that is accepted again.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"headers":{"PAYMENT-SIGNATURE":"abc"},"body":{"sealed":"00"}}`))
	f.Add([]byte(`{"body":null}`))
	f.Add([]byte(`{"headers":{"a b":"c"},"body":{}}`))
	f.Add([]byte(`{"headers":{"x":"1","X":"2"},"body":1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req Request
		if err := p2p.DecodeJSON(raw, &req); err != nil {
			return
		}
		if err := req.check(); err != nil {
			return
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("accepted request does not encode: %v", err)
		}
		var again Request
		if err := p2p.DecodeJSON(b, &again); err != nil || again.check() != nil {
			t.Fatalf("re-encoded request refused: %v", err)
		}
	})
}

// FuzzDecodeResponse does the same for the client's response decoding.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"status":402,"headers":{"PAYMENT-REQUIRED":"e30="},"body":{"error":"x"}}`))
	f.Add([]byte(`{"status":200}`))
	f.Add([]byte(`{"status":99}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var resp Response
		if err := p2p.DecodeJSON(raw, &resp); err != nil {
			return
		}
		_ = resp.check()
	})
}
