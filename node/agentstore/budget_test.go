package agentstore_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/agentnet/agentnode/node/agentstore"
)

// TestManifestBudget: an agent's budget for the agents it calls parses, round-trips, is
// left out when zero, and must be a non-negative integer.
func TestManifestBudget(t *testing.T) {
	m, err := agentstore.ParseManifest([]byte("name = \"r\"\ndescription = \"calls others\"\nprice = 15000\nbudget = 20000\n"))
	if err != nil || m.Budget != 20000 {
		t.Fatalf("budget: %+v %v", m, err)
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := agentstore.ParseManifest(b)
	if err != nil || back.Budget != 20000 {
		t.Fatalf("round trip: %+v %v\n%s", back, err, b)
	}
	m.Budget = 0
	if b, _ = m.Encode(); len(b) == 0 || bytes.Contains(b, []byte("budget")) {
		t.Fatalf("a zero budget is encoded:\n%s", b)
	}
	for _, src := range []string{"budget = -1", "budget = \"5\"", "budget = 1.5"} {
		if _, err := agentstore.ParseManifest([]byte("name = \"r\"\ndescription = \"d\"\n" + src)); !errors.Is(err, agentstore.ErrBadManifest) {
			t.Errorf("%s: %v", src, err)
		}
	}
}
