package agentstore_test

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/node/agentstore"
)

func TestParseManifest(t *testing.T) {
	m, err := agentstore.ParseManifest([]byte(`
# the echo agent
name = "echo-1.v2"
description = "Prints its arguments back, joined by spaces."
tags = ["text", "echo"]
price = 0

[limits]
timeout = "750ms"
`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "echo-1.v2" || len(m.Tags) != 2 || m.Price != 0 || m.Limits.Timeout.Duration != 750*time.Millisecond || m.PriceAmount() != "0" {
		t.Fatalf("manifest %+v", m)
	}
	minimal, err := agentstore.ParseManifest([]byte("name = \"x\"\ndescription = \"does x\"\nprice = 12"))
	if err != nil || minimal.Tags != nil || minimal.Limits.Timeout.Duration != 0 || minimal.PriceAmount() != "12" {
		t.Fatalf("minimal manifest %+v %v", minimal, err)
	}
}

// TestCallPrice checks the price of a call: the base price plus max_fuel at
// price_per_mfuel, rounded up to a whole atomic unit, and what the card says.
func TestCallPrice(t *testing.T) {
	for _, tc := range []struct {
		src        string
		fuel, call uint64
	}{
		{"price = 7", 0, 7},
		{"price = 7\nmax_fuel = 5_000_000", 0, 7}, // a cap without a fuel price
		{"price = 100\nmax_fuel = 10_000_000\nprice_per_mfuel = 3", 30, 130},
		{"max_fuel = 1\nprice_per_mfuel = 1", 1, 1},                                           // a millionth of a unit is charged as one
		{"max_fuel = 1_500_000\nprice_per_mfuel = 1", 2, 2},                                   // 1.5 rounds up
		{"max_fuel = 2_000_000\nprice_per_mfuel = 1", 2, 2},                                   // exact
		{"max_fuel = 4611686018427387904\nprice_per_mfuel = 2", 9223372036855, 9223372036855}, // MaxFuel, 128-bit product
		{"price = 9223372036854775807\nmax_fuel = 10\nprice_per_mfuel = 0", 0, 9223372036854775807},
	} {
		m, err := agentstore.ParseManifest([]byte("name = \"a\"\ndescription = \"d\"\n" + tc.src))
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if m.FuelPrice() != tc.fuel || m.CallPrice() != tc.call || m.PriceAmount() != strconv.FormatUint(tc.call, 10) {
			t.Errorf("%q: fuel price %d, call price %d (%s), want %d and %d", tc.src, m.FuelPrice(), m.CallPrice(), m.PriceAmount(), tc.fuel, tc.call)
		}
	}
}

func TestParseManifestRejects(t *testing.T) {
	base := "name = \"a\"\ndescription = \"d\"\n"
	for name, src := range map[string]string{
		"unknown key":         base + "prize = 3",
		"unknown limit":       base + "[limits]\nmemory = 3",
		"no name":             "description = \"d\"",
		"bad name":            "name = \"-a\"\ndescription = \"d\"",
		"name with slash":     "name = \"a/b\"\ndescription = \"d\"",
		"long name":           "name = \"" + strings.Repeat("a", 65) + "\"\ndescription = \"d\"",
		"no description":      "name = \"a\"",
		"blank description":   "name = \"a\"\ndescription = \"  \"",
		"control in desc":     "name = \"a\"\ndescription = \"a\\u0007b\"",
		"long description":    "name = \"a\"\ndescription = \"" + strings.Repeat("d", 2049) + "\"",
		"too many tags":       base + "tags = [" + strings.Repeat("\"t\",", 17) + "]",
		"duplicate tag":       base + "tags = [\"x\", \"x\"]",
		"empty tag":           base + "tags = [\"\"]",
		"long tag":            base + "tags = [\"" + strings.Repeat("t", 33) + "\"]",
		"negative price":      base + "price = -1",
		"price as string":     base + "price = \"1\"",
		"bad timeout":         base + "[limits]\ntimeout = \"soon\"",
		"negative timeout":    base + "[limits]\ntimeout = \"-1s\"",
		"not TOML":            "= =",
		"oversized":           base + "#" + strings.Repeat("x", agentstore.MaxManifestSize),
		"description as list": "name = \"a\"\ndescription = [\"d\"]",
		"fuel price, no cap":  base + "price_per_mfuel = 1",
		"negative max_fuel":   base + "max_fuel = -1",
		"max_fuel over max":   base + "max_fuel = 4611686018427387905",
		"call price overflow": base + "price = 9223372036854775807\nmax_fuel = 1\nprice_per_mfuel = 1",
		"fuel price overflow": base + "max_fuel = 4611686018427387904\nprice_per_mfuel = 9223372036854775807",
	} {
		if _, err := agentstore.ParseManifest([]byte(src)); !errors.Is(err, agentstore.ErrBadManifest) {
			t.Errorf("%s: got %v, want ErrBadManifest", name, err)
		}
	}
}

func TestManifestEncodeRoundTrips(t *testing.T) {
	m := agentstore.Manifest{Name: "a", Description: "line one\nline \"two\"", Tags: []string{"x", "ü"}, Price: 7, MaxFuel: 1e9, PricePerMFuel: 2}
	m.Limits.Timeout.Duration = 2 * time.Second
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := agentstore.ParseManifest(b)
	if err != nil {
		t.Fatalf("parse encoded manifest: %v\n%s", err, b)
	}
	if back.Name != m.Name || back.Description != m.Description || strings.Join(back.Tags, ",") != "x,ü" || back.Price != 7 || back.Limits != m.Limits ||
		back.MaxFuel != m.MaxFuel || back.PricePerMFuel != m.PricePerMFuel || back.CallPrice() != 2007 {
		t.Fatalf("round trip %+v != %+v", back, m)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("name = \"echo\"\ndescription = \"echoes\"\ntags = [\"a\"]\nprice = 3\n[limits]\ntimeout = \"1s\""))
	f.Add([]byte("name = \"a\"\ndescription = \"\\u0000\""))
	f.Add([]byte("[limits]\n[limits]"))
	f.Add([]byte("name = 'a'\ndescription = '''\nmulti\n'''"))
	f.Add([]byte("name = \"a\"\ndescription = \"d\"\nprice = 1\nmax_fuel = 10_000_000\nprice_per_mfuel = 3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := agentstore.ParseManifest(b)
		if err != nil {
			if !errors.Is(err, agentstore.ErrBadManifest) {
				t.Fatalf("error without ErrBadManifest: %v", err)
			}
			return
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("encode an accepted manifest: %v", err)
		}
		back, err := agentstore.ParseManifest(enc)
		if err != nil {
			t.Fatalf("re-parse an encoded manifest: %v\n%s", err, enc)
		}
		if back.Name != m.Name || back.Description != m.Description || back.Price != m.Price || back.Limits != m.Limits || len(back.Tags) != len(m.Tags) ||
			back.MaxFuel != m.MaxFuel || back.PricePerMFuel != m.PricePerMFuel {
			t.Fatalf("round trip changed the manifest: %+v -> %+v", m, back)
		}
		if m.CallPrice() < m.Price || m.CallPrice() > math.MaxInt64 || m.MaxFuel > wasm.MaxFuel {
			t.Fatalf("accepted manifest out of range: price %d, call price %d, max_fuel %d", m.Price, m.CallPrice(), m.MaxFuel)
		}
	})
}
