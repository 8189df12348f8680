package meter_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/meter"
	"github.com/agentnet/agentnode/enclave/wasm/meter/metertest"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// fuzzSeeds adds the committed WAT-built modules and some generated ones.
func fuzzSeeds(f *testing.F) {
	wats, _ := filepath.Glob("testdata/*.wat")
	for _, wat := range wats {
		if b, err := os.ReadFile(wat[:len(wat)-len(".wat")] + ".wasm"); err == nil {
			f.Add(b)
		}
	}
	for seed := uint64(0); seed < 8; seed++ {
		f.Add(metertest.Generate(seed, genConfigs[seed%uint64(len(genConfigs))]))
	}
}

// onlyWASI reports whether a compiled module imports nothing but WASI functions.
func onlyWASI(cm wazero.CompiledModule) bool {
	for _, d := range cm.ImportedFunctions() {
		if mod, _, _ := d.Import(); mod != "wasi_snapshot_preview1" {
			return false
		}
	}
	return len(cm.ImportedMemories()) == 0
}

// FuzzInstrument feeds arbitrary bytes to Instrument. It must never panic nor produce a
// module wazero rejects (ErrRewrite); a WASI command it meters must behave the same,
// whenever the original finishes within its deadline. (That every valid module is
// accepted is the job of the differential tests and FuzzGenerated.)
func FuzzInstrument(f *testing.F) {
	fuzzSeeds(f)
	ctx := context.Background()
	plain := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	defer plain.Close(ctx)
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := meter.Instrument(in, meter.WithMaxModuleSize(1<<20))
		switch {
		case errors.Is(err, meter.ErrRewrite):
			t.Fatalf("wazero rejects the rewritten module of a valid input: %v", err)
		case err != nil:
			// Instrument refused the input. Whether wazero would accept it cannot be
			// asked safely: wazero allocates by the vector lengths the input declares,
			// and arbitrary bytes declare billions (Instrument bounds them first).
			return
		}
		cm, err := plain.CompileModule(ctx, in)
		if err != nil {
			return // wazero rejects the input; the output is valid all the same
		}
		defer cm.Close(ctx)
		if _, err := plain.CompileModule(ctx, out); err != nil {
			t.Fatalf("wazero accepts the input, not the output: %v", err)
		}
		if _, exported := cm.ExportedFunctions()["_start"]; !exported || !onlyWASI(cm) {
			return
		}
		r := newRuntime(t, interpreter, true)
		dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		want := runCommand(dctx, t, r, in, false, 0, []byte("stdin"))
		if dctx.Err() != nil {
			return // the original did not finish: nothing to compare
		}
		got := runCommand(ctx, t, r, out, true, 1<<40, []byte("stdin"))
		got.Fuel = 0
		if want != got {
			t.Fatalf("metered command differs:\noriginal %+v\nmetered  %+v", want, got)
		}
	})
}

// FuzzGenerated meters random valid modules from the generator, seeded by the fuzzer,
// and checks they behave exactly like the originals.
func FuzzGenerated(f *testing.F) {
	for seed := uint64(0); seed < 16; seed++ {
		f.Add(seed, uint8(seed))
	}
	r := genRuntime(f, compiler)
	f.Fuzz(func(t *testing.T, seed uint64, shape uint8) {
		cfg := genConfigs[int(shape)%len(genConfigs)]
		checkGenerated(t, r, seed, cfg)
	})
}
