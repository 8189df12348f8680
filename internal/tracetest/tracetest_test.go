package tracetest

import (
	"bytes"
	"context"
	"errors"
	"runtime/trace"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecordMeasuresNestedRegions(t *testing.T) {
	ctx := context.Background()
	rs, err := Record(func() {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				trace.WithRegion(ctx, "outer", func() {
					time.Sleep(20 * time.Millisecond)
					trace.WithRegion(ctx, "inner", func() { time.Sleep(5 * time.Millisecond) })
				})
			})
		}
		wg.Wait()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs["outer"]) != 4 || len(rs["inner"]) != 4 {
		t.Fatalf("regions %v, want 4 outer and 4 inner", rs)
	}
	outer, _ := rs.Percentile("outer", 50)
	inner, _ := rs.Percentile("inner", 50)
	if inner < 5*time.Millisecond || outer < 25*time.Millisecond || outer < inner {
		t.Errorf("outer %v inner %v: want outer ≥ 25ms, inner ≥ 5ms", outer, inner)
	}
	if _, ok := rs.Percentile("none", 50); ok {
		t.Error("a region that never ran has a percentile")
	}
}

func TestRegionOpenAtStartIsLeftOut(t *testing.T) {
	ctx := context.Background()
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		trace.WithRegion(ctx, "early", func() {
			close(started)
			<-release
		})
		close(done)
	}()
	<-started
	rs, err := Record(func() {
		close(release)
		<-done
		trace.WithRegion(ctx, "late", func() {})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs["early"]) != 0 || len(rs["late"]) != 1 {
		t.Fatalf("regions %v: want only the one that began inside the trace", rs)
	}
}

func TestRecordWhileTracing(t *testing.T) {
	if err := trace.Start(&bytes.Buffer{}); err != nil {
		t.Skip("a trace is running already (go test -trace)")
	}
	defer trace.Stop()
	if _, err := Record(func() {}); err == nil {
		t.Fatal("Record inside a running trace succeeded")
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "go 1.26 trace\x00\x01\x02garbage", strings.Repeat("x", 100)} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
}

func TestParseCap(t *testing.T) {
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Skip("a trace is running already")
	}
	for range 100 {
		trace.WithRegion(context.Background(), "r", func() {})
	}
	trace.Stop()
	if _, err := parse(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Fatalf("a trace at the cap: %v", err)
	}
	if _, err := parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()/2)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a trace over the cap: err %v, want ErrTooLarge", err)
	}
}

// FuzzParse: any input parses or fails with an error; it never panics.
func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	if err := trace.Start(&buf); err == nil {
		trace.WithRegion(context.Background(), "seed", func() {})
		trace.Stop()
		f.Add(buf.Bytes())
	}
	f.Add([]byte("go 1.26 trace\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		rs, err := Parse(bytes.NewReader(in))
		if err != nil {
			return
		}
		for typ, ds := range rs {
			for _, d := range ds {
				if d < 0 {
					t.Fatalf("%s: negative duration %v", typ, d)
				}
			}
		}
	})
}
