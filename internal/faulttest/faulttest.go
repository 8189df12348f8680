// Package faulttest injects network faults for tests: a TCP proxy in front
// of a real service (the embedded chain's JSON-RPC, a facilitator, a
// node's bridge) that can pass traffic through, refuse it, swallow it, or
// slow it down, switched while the test runs.
package faulttest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Mode is what the proxy does with traffic.
type Mode int

const (
	// Up passes traffic through.
	Up Mode = iota
	// Down closes every connection at once: the service is gone
	// (connections are reset, new ones are closed as they are accepted).
	Down
	// Stall accepts connections and reads what is sent but never
	// answers: a service that hangs.
	Stall
	// Slow passes traffic through, holding each chunk from the service
	// for the proxy's delay.
	Slow
)

func (m Mode) String() string {
	return [...]string{"up", "down", "stall", "slow"}[m]
}

// Proxy is a TCP proxy on a loopback port in front of one address.
type Proxy struct {
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup

	mu    sync.Mutex
	mode  Mode
	delay time.Duration
	conns map[net.Conn]struct{}
	// accepted counts connections, for tests that check traffic flowed.
	accepted int
	closed   bool
}

// New starts a proxy to upstream (host:port) in mode Up; it is closed when
// the test ends.
func New(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	tb.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Set switches the mode; delay is the hold of Slow. Switching to Down or
// Stall cuts the connections open now, so that clients with kept-alive
// connections meet the new mode at once.
func (p *Proxy) Set(m Mode, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.delay = m, delay
	if m == Down || m == Stall {
		for c := range p.conns {
			_ = c.Close()
		}
	}
}

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops the proxy and cuts every connection. It is idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepted++
		mode, closed := p.mode, p.closed
		if mode == Down || closed {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() {
			defer p.forget(c)
			if mode == Stall {
				_, _ = io.Copy(io.Discard, c)
				return
			}
			p.pipe(c)
		})
	}
}

func (p *Proxy) forget(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// pipe connects c to the upstream until either side ends.
func (p *Proxy) pipe(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer p.forget(up)
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(up, c)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(c, delayed{r: up, p: p})
		_ = c.Close()
		done <- struct{}{}
	}()
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
}

// delayed holds each chunk read from the upstream for the Slow delay.
type delayed struct {
	r io.Reader
	p *Proxy
}

func (d delayed) Read(b []byte) (int, error) {
	n, err := d.r.Read(b)
	d.p.mu.Lock()
	mode, delay := d.p.mode, d.p.delay
	d.p.mu.Unlock()
	if n > 0 && mode == Slow {
		time.Sleep(delay)
	}
	if errors.Is(err, net.ErrClosed) {
		err = io.EOF
	}
	return n, err
}
