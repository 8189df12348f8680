package p2p

import (
	"slices"
	"testing"

	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// TestBlockReporterNamesEveryScope: each refusal the resource manager
// reports reaches Config.ResourceBlocked with its scope, and nothing it
// allows does.
func TestBlockReporterNamesEveryScope(t *testing.T) {
	var got []string
	var r rcmgr.MetricsReporter = blockReporter(func(s string) { got = append(got, s) })
	r.AllowConn(0, true)
	r.AllowStream("", 0)
	r.AllowPeer("")
	r.AllowProtocol("")
	r.AllowService("")
	r.AllowMemory(1)
	if len(got) != 0 {
		t.Fatalf("allowed reservations reported: %v", got)
	}
	r.BlockConn(0, true)
	r.BlockStream("", 0)
	r.BlockPeer("")
	r.BlockProtocol("")
	r.BlockProtocolPeer("", "")
	r.BlockService("")
	r.BlockServicePeer("", "")
	r.BlockMemory(1)
	want := []string{"conn", "stream", "peer", "protocol", "protocol", "service", "service", "memory"}
	if !slices.Equal(got, want) {
		t.Fatalf("reported %v, want %v", got, want)
	}
}
