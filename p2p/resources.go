package p2p

import (
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// blockReporter is the resource manager's metrics reporter that passes
// each refusal to Config.ResourceBlocked and ignores what was allowed.
type blockReporter func(scope string)

func (blockReporter) AllowConn(network.Direction, bool)        {}
func (b blockReporter) BlockConn(network.Direction, bool)      { b("conn") }
func (blockReporter) AllowStream(peer.ID, network.Direction)   {}
func (b blockReporter) BlockStream(peer.ID, network.Direction) { b("stream") }
func (blockReporter) AllowPeer(peer.ID)                        {}
func (b blockReporter) BlockPeer(peer.ID)                      { b("peer") }
func (blockReporter) AllowProtocol(protocol.ID)                {}
func (b blockReporter) BlockProtocol(protocol.ID)              { b("protocol") }
func (b blockReporter) BlockProtocolPeer(protocol.ID, peer.ID) { b("protocol") }
func (blockReporter) AllowService(string)                      {}
func (b blockReporter) BlockService(string)                    { b("service") }
func (b blockReporter) BlockServicePeer(string, peer.ID)       { b("service") }
func (blockReporter) AllowMemory(int)                          {}
func (b blockReporter) BlockMemory(int)                        { b("memory") }
