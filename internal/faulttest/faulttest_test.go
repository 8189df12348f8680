package faulttest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/agentnet/agentnode/internal/faulttest"
)

// echo starts a line echo server and returns its address.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line through addr and reads it back within d.
func roundTrip(addr string, d time.Duration) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(d))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	if line != "ping\n" {
		return 0, errors.New("wrong echo " + line)
	}
	return time.Since(start), nil
}

func TestModes(t *testing.T) {
	p := faulttest.New(t, echo(t))
	if _, err := roundTrip(p.Addr(), 2*time.Second); err != nil {
		t.Fatalf("up: %v", err)
	}
	// A connection open when the service goes down is cut.
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	p.Set(faulttest.Down, 0)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("open connection after down: %v", err)
	}
	if _, err := roundTrip(p.Addr(), 2*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("down: %v, want a fast failure", err)
	}
	p.Set(faulttest.Stall, 0)
	if _, err := roundTrip(p.Addr(), 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stall: %v, want a timeout", err)
	}
	p.Set(faulttest.Slow, 200*time.Millisecond)
	if d, err := roundTrip(p.Addr(), 2*time.Second); err != nil || d < 200*time.Millisecond {
		t.Fatalf("slow: %v after %s", err, d)
	}
	p.Set(faulttest.Up, 0)
	if d, err := roundTrip(p.Addr(), 2*time.Second); err != nil || d > 150*time.Millisecond {
		t.Fatalf("up again: %v after %s", err, d)
	}
	if p.Accepted() < 5 {
		t.Fatalf("accepted %d connections", p.Accepted())
	}
	p.Close()
	p.Close()
}
