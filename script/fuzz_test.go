package script

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// FuzzRun compiles and runs arbitrary source under small limits: nothing
// may panic, hang or escape the limits, and every error is an *Error.
func FuzzRun(f *testing.F) {
	for _, s := range []string{
		"def main(a):\n    return a\n",
		"def main(a):\n    return [x * 2 for x in range(10)]\n",
		"def main(a):\n    s = 'x'\n    for i in range(30):\n        s += s\n",
		"def main(a):\n    l = [1]\n    for i in range(30):\n        l = [l, l]\n    return str(l)\n",
		"def main(a):\n    t = ()\n    for i in range(30):\n        t = (t, t)\n    return {t: 1}\n",
		"def main(a):\n    d = {}\n    d['k'] += 1\n",
		"def main(a):\n    return '%s %d' % ('x', 1) + '{}'.format(a)\n",
		"def main(a):\n    return sorted([3, 1], key=lambda v: -v)[1:][::-1]\n",
		"def main(a):\n    return getattr('abc', 'upper')() * 3\n",
		"x = [1, 2]\nx[0] += 1\ndef main(a):\n    return x\n",
		"def main(a):\n    while True:\n        a = a\n",
		"load('m', 'x')\n",
	} {
		f.Add(s)
	}
	lim := Limits{MaxSteps: 20000, MaxAlloc: 1 << 20, Timeout: 2 * time.Second, MaxResult: 1 << 16}
	f.Fuzz(func(t *testing.T, src string) {
		start := time.Now()
		res, err := Run(context.Background(), Program{Filename: "f.star", Source: []byte(src)}, "main", []any{map[string]any{"k": 1}}, lim)
		if d := time.Since(start); d > 5*time.Second*raceSlowdown {
			t.Fatalf("run took %v", d)
		}
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		if res.Alloc > lim.MaxAlloc {
			t.Fatalf("allocated %d over the %d budget", res.Alloc, lim.MaxAlloc)
		}
		if _, err := MarshalJSON(res.Value); err != nil && !errors.Is(err, ErrConvert) {
			t.Fatalf("result does not encode: %v", err)
		}
	})
}

// FuzzDecodeJSON: JSON that decodes survives the trip through Starlark
// and back unchanged.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"a": 1, "b": [true, null, 1.5, "x"], "c": {"d": 123456789012345678901234567890}}`,
		`[]`, `"s"`, `-0`, `1e400`, `{"a": {"a": {"a": []}}}`, `[1, 2, 3`, `{"\u0000": "\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeJSON(data)
		if err != nil {
			return
		}
		sv, err := ToValue(v)
		if err != nil {
			t.Fatalf("ToValue of decoded JSON: %v", err)
		}
		back, err := FromValue(sv, Limits{MaxResult: 4 * MaxJSONLen})
		if err != nil {
			t.Fatalf("FromValue: %v", err)
		}
		if !reflect.DeepEqual(normalize(back), normalize(v)) {
			t.Fatalf("round trip changed the value: %#v -> %#v", v, back)
		}
	})
}

// normalize maps values to comparable forms (big ints as strings).
func normalize(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalize(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = normalize(x)
		}
		return out
	case interface{ String() string }:
		return v.String()
	}
	return v
}
