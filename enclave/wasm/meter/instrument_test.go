package meter_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
)

// Helpers to craft modules byte by byte.

func leb(v uint32) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func sec(id byte, payload ...byte) []byte {
	return append(append([]byte{id}, leb(uint32(len(payload)))...), payload...)
}

func str(s string) []byte { return append(leb(uint32(len(s))), s...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var header = []byte("\x00asm\x01\x00\x00\x00")

// oneFunc is a module with the type [] -> [], one function with body (locals and code,
// without the size) and the given extra sections, which must have ids between function
// (3) and code (10).
func oneFunc(body []byte, extra ...[]byte) []byte {
	code := cat(leb(1), leb(uint32(len(body))), body)
	parts := [][]byte{header, sec(1, 0x01, 0x60, 0x00, 0x00), sec(3, 0x01, 0x00)}
	parts = append(parts, extra...)
	return cat(append(parts, sec(10, code...))...)
}

// TestInstrumentRejects covers the inputs Instrument must refuse, each with its error.
func TestInstrumentRejects(t *testing.T) {
	valid := oneFunc([]byte{0x00, 0x0b})
	metered := mustInstrument(t, valid)
	cases := []struct {
		name string
		in   []byte
		opts []meter.Option
		want error
	}{
		{"empty", nil, nil, meter.ErrMalformed},
		{"not wasm", []byte("hello, world"), nil, meter.ErrMalformed},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), nil, meter.ErrUnsupported},
		{"truncated section", cat(header, []byte{0x01, 0x05, 0x01}), nil, meter.ErrMalformed},
		{"sections out of order", cat(header, sec(3, 0x00), sec(1, 0x00)), nil, meter.ErrMalformed},
		{"repeated section", cat(header, sec(1, 0x00), sec(1, 0x00)), nil, meter.ErrMalformed},
		{"tag section", cat(header, sec(13, 0x00)), nil, meter.ErrUnsupported},
		{"huge vector", cat(header, sec(1, 0xff, 0xff, 0xff, 0xff, 0x0f)), nil, meter.ErrMalformed},
		{"GC type", cat(header, sec(1, 0x01, 0x5f, 0x00, 0x00)), nil, meter.ErrUnsupported},
		{"typed reference", cat(header, sec(1, 0x01, 0x60, 0x01, 0x63, 0x70, 0x00)), nil, meter.ErrUnsupported},
		{"reserved import", cat(header, sec(1, 0x01, 0x60, 0x00, 0x00),
			sec(2, cat(leb(1), str("agentnet_meter"), str("yield"), []byte{0x00, 0x00})...)), nil, meter.ErrReservedName},
		{"reserved export", oneFunc([]byte{0x00, 0x0b}, sec(7, cat(leb(1), str("agentnet_meter.fuel"), []byte{0x00, 0x00})...)),
			nil, meter.ErrReservedName},
		{"metered twice", metered, nil, meter.ErrReservedName},
		{"memory64", cat(header, sec(5, 0x01, 0x04, 0x01)), nil, meter.ErrUnsupported},
		{"shared memory", cat(header, sec(5, 0x01, 0x03, 0x01, 0x02)), nil, meter.ErrUnsupported},
		{"atomics", oneFunc([]byte{0x00, 0xfe, 0x03, 0x00, 0x0b}), nil, meter.ErrUnsupported},
		{"tail call", oneFunc([]byte{0x00, 0x12, 0x00, 0x0b}), nil, meter.ErrUnsupported},
		{"exceptions", oneFunc([]byte{0x00, 0x06, 0x40, 0x0b, 0x0b}), nil, meter.ErrUnsupported},
		{"unknown misc op", oneFunc([]byte{0x00, 0xfc, 0x12, 0x00, 0x0b}), nil, meter.ErrUnsupported},
		{"unassigned SIMD op", oneFunc([]byte{0x00, 0xfd, 0x9a, 0x01, 0x0b}), nil, meter.ErrUnsupported},
		{"non-canonical SIMD opcode", oneFunc([]byte{0x00, 0xfd, 0x8e, 0x02, 0x0b}), nil, meter.ErrUnsupported},
		{"call past the last function", oneFunc([]byte{0x00, 0x10, 0x01, 0x0b}), nil, meter.ErrMalformed},
		{"ref.func past the last function", oneFunc([]byte{0x00, 0xd2, 0x01, 0x1a, 0x0b}), nil, meter.ErrMalformed},
		{"global past the last", oneFunc([]byte{0x00, 0x23, 0x00, 0x1a, 0x0b}), nil, meter.ErrMalformed},
		{"local past the last", oneFunc([]byte{0x01, 0x01, 0x7f, 0x20, 0x01, 0x1a, 0x0b}), nil, meter.ErrMalformed},
		{"call_indirect type past the last", oneFunc([]byte{0x00, 0x41, 0x00, 0x11, 0x01, 0x00, 0x0b}), nil, meter.ErrMalformed},
		{"block type past the last", oneFunc([]byte{0x00, 0x02, 0x01, 0x0b, 0x0b}), nil, meter.ErrMalformed},
		{"function type past the last", cat(header, sec(1, 0x01, 0x60, 0x00, 0x00), sec(3, 0x01, 0x01)), nil, meter.ErrMalformed},
		{"export past the last function", oneFunc([]byte{0x00, 0x0b}, sec(7, cat(leb(1), str("f"), []byte{0x00, 0x01})...)),
			nil, meter.ErrMalformed},
		{"export past the last global", oneFunc([]byte{0x00, 0x0b}, sec(7, cat(leb(1), str("g"), []byte{0x03, 0x00})...)),
			nil, meter.ErrMalformed},
		{"start past the last function", cat(header, sec(1, 0x01, 0x60, 0x00, 0x00), sec(8, 0x00)), nil, meter.ErrMalformed},
		{"global init ref.func past the last", cat(header, sec(6, 0x01, 0x70, 0x00, 0xd2, 0x00, 0x0b)), nil, meter.ErrMalformed},
		{"element past the last function", cat(header, sec(9, 0x01, 0x01, 0x00, 0x01, 0x00)), nil, meter.ErrMalformed},
		{"extended constant", cat(header, sec(6, 0x01, 0x7f, 0x00, 0x41, 0x01, 0x41, 0x02, 0x6a, 0x0b)), nil, meter.ErrUnsupported},
		{"bodies without functions", cat(header, sec(10, 0x01, 0x02, 0x00, 0x0b)), nil, meter.ErrMalformed},
		{"code after the end", oneFunc([]byte{0x00, 0x0b, 0x01}), nil, meter.ErrMalformed},
		{"missing end", oneFunc([]byte{0x00, 0x01}), nil, meter.ErrMalformed},
		{"else outside if", oneFunc([]byte{0x00, 0x05, 0x0b}), nil, meter.ErrMalformed},
		{"branch too deep", oneFunc([]byte{0x00, 0x0c, 0x01, 0x0b}), nil, meter.ErrMalformed},
		{"overlong LEB128", oneFunc([]byte{0x00, 0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a, 0x0b}), nil, meter.ErrMalformed},
		{"type error", oneFunc([]byte{0x00, 0x6a, 0x0b}), nil, meter.ErrInvalid},
		{"too large", valid, []meter.Option{meter.WithMaxModuleSize(len(valid) - 1)}, meter.ErrTooLarge},
		{"zero yield interval", valid, []meter.Option{meter.WithYieldInterval(0)}, meter.ErrFuelRange},
		{"start fuel above max", valid, []meter.Option{meter.WithStartFuel(meter.MaxFuel + 1)}, meter.ErrFuelRange},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := meter.Instrument(tc.in, tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Instrument: %v, want %v", err, tc.want)
			}
			if out != nil {
				t.Fatal("output returned with an error")
			}
			if !strings.HasPrefix(err.Error(), "meter: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestInstrumentPure checks that Instrument is a pure function of its input and options
// and leaves the input untouched, and that CacheKey tells options apart.
func TestInstrumentPure(t *testing.T) {
	in := readTestdata(t, "features.wasm")
	orig := bytes.Clone(in)
	a := mustInstrument(t, in)
	b := mustInstrument(t, in)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs of Instrument differ")
	}
	if !bytes.Equal(in, orig) {
		t.Fatal("Instrument modified its input")
	}
	if c := mustInstrument(t, in, meter.WithYieldInterval(1000)); bytes.Equal(a, c) {
		t.Fatal("the yield interval does not change the output")
	}
	sum := sha256.Sum256(in)
	k1, err := meter.CacheKey(sum)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := meter.CacheKey(sum, meter.WithYieldInterval(meter.DefaultYieldInterval), meter.WithMaxModuleSize(1))
	k3, _ := meter.CacheKey(sum, meter.WithYieldInterval(1000))
	k4, _ := meter.CacheKey(sum, meter.WithStartFuel(5))
	k5, _ := meter.CacheKey(sha256.Sum256(a))
	if k1 != k2 {
		t.Error("options that do not change the output change the key")
	}
	if k1 == k3 || k1 == k4 || k1 == k5 || k3 == k4 {
		t.Error("different outputs share a key")
	}
	if _, err := meter.CacheKey(sum, meter.WithYieldInterval(0)); !errors.Is(err, meter.ErrFuelRange) {
		t.Errorf("CacheKey with a bad option: %v", err)
	}
}

// TestFeaturesDifferential runs the module that touches every remapped construct and
// checks its output, exit code and trap behaviour survive metering, on both engines.
func TestFeaturesDifferential(t *testing.T) {
	ctx := context.Background()
	in := readTestdata(t, "features.wasm")
	out := mustInstrument(t, in)
	for _, eng := range []engine{compiler, interpreter} {
		r := newRuntime(t, eng, false)
		want := runCommand(ctx, t, r, in, false, 0, nil)
		got := runCommand(ctx, t, r, out, true, 1e9, nil)
		got.Fuel = 0
		if want != got {
			t.Fatalf("engine %d:\noriginal %+v\nmetered  %+v", eng, want, got)
		}
		if !strings.Contains(want.Stdout, "A=42\nB=12\nC=42\nD=42\nE=13\n") || want.Exit == 0 || want.Err != "" {
			t.Fatalf("the features module itself misbehaves: %+v", want)
		}
	}
}

// TestNameSection checks that function names follow the index shift: a trap's stack
// trace, which wazero builds from the name section, is the same before and after.
func TestNameSection(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, compiler, false)
	in := readTestdata(t, "trap.wasm")
	plain, _ := instance(t, r, in, false)
	metered, g := instance(t, r, mustInstrument(t, in), true)
	if err := g.Set(1e6); err != nil {
		t.Fatal(err)
	}
	_, want := plain.ExportedFunction("outer").Call(ctx, uint64(0xffffffff))
	_, got := metered.ExportedFunction("outer").Call(ctx, uint64(0xffffffff))
	if want == nil || got == nil || want.Error() != got.Error() {
		t.Fatalf("stack traces differ:\noriginal %v\nmetered  %v", want, got)
	}
	if !strings.Contains(want.Error(), "$inner") && !strings.Contains(want.Error(), "inner") {
		t.Fatalf("trace without function names: %v", want)
	}
}
