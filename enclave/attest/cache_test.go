package attest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingVerifier accepts quotes equal to its report data's first byte
// pattern and counts calls.
type countingVerifier struct {
	calls      atomic.Int32
	validUntil time.Time
}

func (v *countingVerifier) Verify(_ context.Context, ev Evidence, want ReportData, _ *Policy) (*Claims, error) {
	v.calls.Add(1)
	if string(ev.Quote) != "good" {
		return nil, ErrBadSignature
	}
	return &Claims{Platform: ev.Platform, ReportData: want, Measurements: map[string]HexBytes{"mrtd": {1}}, ValidUntil: v.validUntil}, nil
}

func TestCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	v := &countingVerifier{validUntil: now.Add(30 * time.Minute)}
	c := NewCache(Verifiers{PlatformTDX: v}, nil, CacheConfig{TTL: time.Hour, Now: clock})
	ctx := context.Background()
	ev := Evidence{Platform: PlatformTDX, Quote: []byte("good")}
	var want ReportData

	c1, err := c.Verify(ctx, "peer-a", ev, want)
	if err != nil {
		t.Fatal(err)
	}
	c1.Measurements["mrtd"][0] = 9 // callers own what they get
	c2, err := c.Verify(ctx, "peer-a", ev, want)
	if err != nil || v.calls.Load() != 1 || c2.Measurements["mrtd"][0] != 1 {
		t.Fatalf("hit: err %v calls %d claims %+v", err, v.calls.Load(), c2)
	}
	// Another peer, another binding or another quote is verified afresh.
	c.Verify(ctx, "peer-b", ev, want)
	want2 := want
	want2[0] = 1
	c.Verify(ctx, "peer-a", ev, want2)
	if v.calls.Load() != 3 {
		t.Fatalf("calls = %d, want 3", v.calls.Load())
	}
	// Failures are not cached.
	bad := Evidence{Platform: PlatformTDX, Quote: []byte("bad")}
	for range 2 {
		if _, err := c.Verify(ctx, "peer-a", bad, want); !errors.Is(err, ErrBadSignature) {
			t.Fatal(err)
		}
	}
	if v.calls.Load() != 5 {
		t.Fatalf("failures cached: calls = %d", v.calls.Load())
	}
	// The verdict expires with the claims' ValidUntil, before the TTL.
	now = now.Add(31 * time.Minute)
	c.Verify(ctx, "peer-a", ev, want)
	if v.calls.Load() != 6 {
		t.Fatalf("expired verdict reused: calls = %d", v.calls.Load())
	}
	// A policy refusing the platform refuses cached verdicts too.
	c.p = &Policy{Platforms: []Platform{PlatformSNP}}
	if _, err := c.Verify(ctx, "peer-b", ev, want); !errors.Is(err, ErrPlatformNotAllowed) {
		t.Fatalf("policy not re-applied: %v", err)
	}
}

func TestCacheParallel(t *testing.T) {
	v := &countingVerifier{}
	c := NewCache(Verifiers{PlatformSNP: v}, nil, CacheConfig{Size: 4})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var want ReportData
			want[0] = byte(i % 8)
			for range 20 {
				if _, err := c.Verify(context.Background(), "p", Evidence{Platform: PlatformSNP, Quote: []byte("good")}, want); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if c.Len() > 4 {
		t.Errorf("cache holds %d verdicts, size 4", c.Len())
	}
}
