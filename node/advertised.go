package node

import (
	"context"
	"errors"
)

// Advertised waits until every card change the node made before the call
// (deploys, withdrawals, the agents it started with) has been through the
// publisher: cards put and search terms provided in the DHT, or failed
// and left to the publisher's retries. A testnet waits for it before it
// calls the network ready, so that a search finds every term of every
// card. Without p2p it returns at once.
func (n *Node) Advertised(ctx context.Context) error {
	if n.net == nil {
		return nil
	}
	done := make(chan struct{})
	// The publisher runs card changes one at a time, in order: when this
	// one runs, every earlier one has finished.
	n.net.enqueue(func(context.Context) { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.net.ctx.Done():
		return errors.New("wait for the cards to be advertised: the node is closing")
	}
}
