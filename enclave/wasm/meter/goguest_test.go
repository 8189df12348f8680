package meter_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/enclave/wasm/meter/metertest"
)

// TestGoGuestDifferential runs a Go-compiled wasip1 command (the heaviest real-world
// shape: a br_table dispatch loop per function, its own stack, goroutines, GC) through
// several tasks and checks the metered module prints and exits exactly like the
// original, with the same fuel on every run.
func TestGoGuestDifferential(t *testing.T) {
	if testing.Short() || raceEnabled {
		// The guest runs compiled code, not Go concurrency: the race detector adds
		// nothing here but minutes of compiling.
		t.Skip("compiles a 3.6 MB Go guest twice")
	}
	ctx := context.Background()
	in := readTestdata(t, "goguest.wasm")
	out := mustInstrument(t, in)
	r := newRuntime(t, compiler, false)
	for _, tc := range []struct {
		stdin string
		args  []string
		check string // a line the original must print
	}{
		{"", nil, "json 1506735260 <nil>"},
		{"shout\nthis\n", []string{"stdin", "hello"}, "SHOUT\nTHIS\nhello from a Go guest"},
		{"", []string{"exit=3"}, "exiting with 3"},
		{"", []string{"panic=boom"}, ""},
		{"", []string{"nonsense"}, ""},
	} {
		want := runCommand(ctx, t, r, in, false, 0, []byte(tc.stdin), tc.args...)
		got := runCommand(ctx, t, r, out, true, 1e12, []byte(tc.stdin), tc.args...)
		fuel := got.Fuel
		got.Fuel = 0
		if want != got {
			t.Fatalf("args %q:\noriginal %+v\nmetered  %+v", tc.args, want, got)
		}
		if !strings.Contains(want.Stdout, tc.check) {
			t.Fatalf("args %q: the guest itself misbehaves: %+v", tc.args, want)
		}
		if again := runCommand(ctx, t, r, out, true, 1e12, []byte(tc.stdin), tc.args...); again.Fuel != fuel {
			t.Fatalf("args %q: fuel %d then %d", tc.args, fuel, again.Fuel)
		}
		t.Logf("args %q: exit %d, fuel %d", tc.args, got.Exit, fuel)
	}
	// The guest's own checks: its plain-Go SHA-256 and JSON workloads agree with the
	// native build of the same code.
	o := runCommand(ctx, t, r, out, true, 1e12, nil, "json")
	sum, err := metertest.JSONParse(metertest.JSONDoc(200))
	if err != nil || !strings.Contains(o.Stdout, "json "+itoa(sum)+" <nil>") {
		t.Fatalf("guest json %q, native %d %v", o.Stdout, sum, err)
	}
}

func itoa(v uint32) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
		if v == 0 {
			return string(b)
		}
	}
}
