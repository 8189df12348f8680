// Package card is the /agentnet/card/1.0.0 stream protocol: fetch the
// agent cards a peer serves, all of them or one by name. It is the fresh
// path to a card (the DHT holds cached copies) and, since it needs the
// peer to answer, a liveness probe too.
//
// Wire: the client sends one JSON frame {"name": ""} (empty name: all
// cards) and closes its write side; the server answers with one frame per
// signed card (a card.Signed envelope, at most card.MaxSize) and then an
// empty frame. Frames are p2p frames (uvarint length prefix).
package card

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/agentnet/agentnode/p2p"
	agentcard "github.com/agentnet/agentnode/p2p/card"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ID is the protocol id.
const ID = "/agentnet/card/1.0.0"

// ServiceName is the resource-manager service of the handler's streams.
const ServiceName = "agentnet.card"

// Size caps.
const (
	// MaxRequestSize caps the request frame.
	MaxRequestSize = 256
	// MaxCards caps the cards in one response, as an index caps names.
	MaxCards = agentcard.MaxIndexNames
)

// Source is where the handler gets the cards it serves;
// *card.Publisher implements it.
type Source interface {
	// Cards returns the signed cards of every advertised agent.
	Cards() [][]byte
	// Card returns the signed card of one advertised agent.
	Card(name string) ([]byte, bool)
}

// ErrNotConnected is returned by Fetcher when no connection to the peer
// is open, so the caller reads the DHT instead of waiting for a dial.
var ErrNotConnected = errors.New("peer not connected")

// ErrBadResponse is returned when a peer answers with more than MaxCards
// cards, a card that does not open, a card of another peer, or another
// agent than asked for.
var ErrBadResponse = errors.New("bad card response")

type request struct {
	Name string `json:"name"`
}

// Service is the registered handler.
type Service struct {
	h   host.Host
	svc *p2p.Service
}

// New registers the handler on h, serving the cards of src. Defaults: a
// 10 s stream deadline, within which a peer that sends no request is
// reset, the p2p package's per-peer bound, requests of MaxRequestSize.
func New(h host.Host, src Source, opts ...p2p.Option) *Service {
	cfg := p2p.ServiceConfig{Name: ServiceName, Timeout: 10 * time.Second, MaxRequestSize: MaxRequestSize}.Apply(opts...)
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = cfg.Timeout // the request is all the peer sends
	}
	svc := p2p.NewService(cfg, func(_ context.Context, s network.Stream) error {
		return serve(s, src, cfg.MaxRequestSize)
	})
	h.SetStreamHandler(ID, svc.ServeStream)
	return &Service{h: h, svc: svc}
}

// serve answers one request read from rw: the cards asked for, one frame
// each, then an empty frame.
func serve(rw io.ReadWriter, src Source, maxRequest int) error {
	var req request
	if err := p2p.ReadJSON(rw, maxRequest, &req); err != nil {
		return err
	}
	var cards [][]byte
	if req.Name == "" {
		cards = src.Cards()
	} else if c, ok := src.Card(req.Name); ok {
		cards = [][]byte{c}
	}
	if len(cards) > MaxCards {
		cards = cards[:MaxCards]
	}
	for _, c := range cards {
		if err := p2p.WriteFrame(rw, c); err != nil {
			return err
		}
	}
	return p2p.WriteFrame(rw, nil)
}

// Close removes the handler and waits for running streams.
func (s *Service) Close() error {
	s.h.RemoveStreamHandler(ID)
	return s.svc.Close()
}

// Fetch asks peer p for its cards (name "" for all) and returns them
// opened and checked to be p's (signature, schema, signer). Expiry and
// evidence are the caller's to verify (card.Verifier).
func Fetch(ctx context.Context, h host.Host, p peer.ID, name string) ([]*agentcard.Signed, error) {
	s, err := p2p.OpenStream(ctx, h, p, ID)
	if err != nil {
		return nil, err
	}
	defer s.Done()
	if err := p2p.WriteJSON(s, MaxRequestSize, request{Name: name}); err != nil {
		s.Fail()
		return nil, fmt.Errorf("fetch cards of %s: %w", p, err)
	}
	if err := s.CloseWrite(); err != nil {
		s.Fail()
		return nil, fmt.Errorf("fetch cards of %s: %w", p, err)
	}
	out, err := readCards(s, p, name)
	if err != nil {
		s.Fail()
		return nil, err
	}
	return out, nil
}

// readCards reads a response from r: the frames of p's cards (only the
// one named name, when name is not ""), ended by an empty frame.
func readCards(r io.Reader, p peer.ID, name string) ([]*agentcard.Signed, error) {
	var out []*agentcard.Signed
	for {
		raw, err := p2p.ReadFrame(r, agentcard.MaxSize)
		if err != nil {
			return nil, fmt.Errorf("fetch cards of %s: %w", p, err)
		}
		if len(raw) == 0 {
			return out, nil
		}
		if len(out) == MaxCards {
			return nil, fmt.Errorf("fetch cards of %s: more than %d: %w", p, MaxCards, ErrBadResponse)
		}
		c, err := agentcard.Open(raw)
		if err != nil {
			return nil, fmt.Errorf("fetch cards of %s: %w: %w", p, ErrBadResponse, err)
		}
		if c.PeerID != p || (name != "" && c.Name != name) {
			return nil, fmt.Errorf("fetch cards of %s: got %s/%s: %w", p, c.PeerID, c.Name, ErrBadResponse)
		}
		out = append(out, c)
	}
}

// Fetcher fetches cards over the stream from peers the host is already
// connected to, and refuses the others at once with ErrNotConnected: a
// searcher then reads the DHT instead of waiting on a dial to a peer that
// may be gone.
type Fetcher struct {
	Host host.Host
}

// FetchCards returns all cards of p.
func (f Fetcher) FetchCards(ctx context.Context, p peer.ID) ([]*agentcard.Signed, error) {
	if f.Host.Network().Connectedness(p) != network.Connected {
		return nil, fmt.Errorf("fetch cards of %s: %w", p, ErrNotConnected)
	}
	return Fetch(ctx, f.Host, p, "")
}
