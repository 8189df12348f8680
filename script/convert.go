package script

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"reflect"
	"slices"
	"strings"

	"go.starlark.net/starlark"
)

// MaxJSONLen caps the JSON DecodeJSON accepts.
const MaxJSONLen = 1 << 20

// ToValue converts a JSON-like Go value to Starlark: nil, bool, integers,
// *big.Int, floats, json.Number, string, []byte, slices and arrays, maps
// with string keys (as dicts with sorted keys, so runs are deterministic),
// and starlark.Value as is.
func ToValue(v any) (starlark.Value, error) {
	return toValue(v, nil, 0)
}

// toValue converts v, charging g (when not nil) for what it builds.
func toValue(v any, g *guard, depth int) (starlark.Value, error) {
	maxDepth := DefaultLimits().MaxDepth
	if g != nil {
		maxDepth = g.lim.MaxDepth
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("values nested more than %d deep: %w", maxDepth, ErrConvert)
	}
	charge := func(bytes int64) error {
		if g == nil {
			return nil
		}
		if g.alloc += bytes; g.alloc > g.lim.MaxAlloc {
			return limitf(ErrMemory, "arguments take more than the %s budget", size(g.lim.MaxAlloc))
		}
		return nil
	}
	switch v := v.(type) {
	case nil:
		return starlark.None, nil
	case starlark.Value:
		return v, nil
	case bool:
		return starlark.Bool(v), nil
	case int:
		return starlark.MakeInt(v), nil
	case int8, int16, int32, int64:
		return starlark.MakeInt64(reflect.ValueOf(v).Int()), nil
	case uint, uint8, uint16, uint32, uint64, uintptr:
		return starlark.MakeUint64(reflect.ValueOf(v).Uint()), nil
	case *big.Int:
		if v == nil {
			return starlark.None, nil
		}
		return starlark.MakeBigInt(v), nil
	case float32:
		return starlark.Float(v), nil
	case float64:
		return starlark.Float(v), nil
	case json.Number:
		n, err := parseNumber(string(v))
		if err != nil {
			return nil, err
		}
		return toValue(n, g, depth)
	case string:
		return starlark.String(v), charge(int64(len(v)))
	case []byte:
		return starlark.Bytes(v), charge(int64(len(v)))
	case []any:
		if err := charge(int64(len(v)) * elemBytes); err != nil {
			return nil, err
		}
		elems := make([]starlark.Value, len(v))
		for i, x := range v {
			sx, err := toValue(x, g, depth+1)
			if err != nil {
				return nil, err
			}
			elems[i] = sx
		}
		return starlark.NewList(elems), nil
	case map[string]any:
		if err := charge(int64(len(v)) * dictItemBytes); err != nil {
			return nil, err
		}
		keys := slices.Sorted(maps.Keys(v))
		d := starlark.NewDict(len(keys))
		for _, k := range keys {
			x, err := toValue(v[k], g, depth+1)
			if err != nil {
				return nil, err
			}
			if err := d.SetKey(starlark.String(k), x); err != nil {
				return nil, err
			}
		}
		return d, checkFlood(d)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if err := charge(int64(rv.Len()) * elemBytes); err != nil {
			return nil, err
		}
		elems := make([]starlark.Value, rv.Len())
		for i := range elems {
			x, err := toValue(rv.Index(i).Interface(), g, depth+1)
			if err != nil {
				return nil, err
			}
			elems[i] = x
		}
		return starlark.NewList(elems), nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map with %s keys: %w", rv.Type().Key(), ErrConvert)
		}
		if err := charge(int64(rv.Len()) * dictItemBytes); err != nil {
			return nil, err
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		d := starlark.NewDict(len(keys))
		for _, k := range keys {
			x, err := toValue(rv.MapIndex(k).Interface(), g, depth+1)
			if err != nil {
				return nil, err
			}
			if err := d.SetKey(starlark.String(k.String()), x); err != nil {
				return nil, err
			}
		}
		return d, checkFlood(d)
	}
	return nil, fmt.Errorf("unsupported Go type %T: %w", v, ErrConvert)
}

// checkFlood rejects a converted dict whose keys, chosen outside the
// sandbox, collide on purpose: more than maxCollisions keys of one hash
// make every lookup in it a scan. Dicts that small cannot flood.
func checkFlood(d *starlark.Dict) error {
	if d.Len() <= maxCollisions {
		return nil
	}
	counts := make(map[uint32]int, d.Len())
	for k := range d.Entries() {
		h, err := k.Hash()
		if err != nil {
			return err
		}
		if counts[h]++; counts[h] > maxCollisions {
			return limitf(ErrSteps, "more than %d keys of a dict argument share one hash value (hash flooding)", maxCollisions)
		}
	}
	return nil
}

func parseNumber(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, ok := new(big.Int).SetString(s, 10); ok {
			if i.IsInt64() {
				return i.Int64(), nil
			}
			if i.BitLen() > 4096 {
				return nil, fmt.Errorf("integer %.20s… too large: %w", s, ErrConvert)
			}
			return i, nil
		}
	}
	var f float64
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return nil, fmt.Errorf("number %.40q: %w", s, ErrConvert)
	}
	return f, nil
}

// FromValue converts a Starlark value to a JSON-like Go value: None to
// nil, bool, int to int64 (or *big.Int beyond int64), float64, string,
// bytes to []byte, lists and tuples to []any, dicts with string keys to
// map[string]any, sets to []any. Functions and other values fail with
// ErrConvert, as does a value larger than lim.MaxResult as JSON.
func FromValue(v starlark.Value, lim Limits) (any, error) {
	return fromValue(v, lim.withDefaults())
}

func fromValue(v starlark.Value, lim Limits) (any, error) {
	w := walker{maxNodes: int64(lim.MaxResult), maxBytes: int64(lim.MaxResult), maxDepth: lim.MaxDepth}
	if err := w.walk(v, 0); err != nil {
		return nil, fmt.Errorf("result larger than %s or nested more than %d deep: %w", size(int64(lim.MaxResult)), lim.MaxDepth, ErrConvert)
	}
	return convertOut(v)
}

func convertOut(v starlark.Value) (any, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		if i, ok := v.Int64(); ok {
			return i, nil
		}
		return v.BigInt(), nil
	case starlark.Float:
		return float64(v), nil
	case starlark.String:
		return string(v), nil
	case starlark.Bytes:
		return []byte(v), nil
	case *starlark.List:
		out := make([]any, 0, v.Len())
		for x := range v.Elements() {
			c, err := convertOut(x)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	case starlark.Tuple:
		out := make([]any, len(v))
		for i, x := range v {
			c, err := convertOut(x)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case *starlark.Set:
		out := make([]any, 0, v.Len())
		for x := range v.Elements() {
			c, err := convertOut(x)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	case *starlark.Dict:
		out := make(map[string]any, v.Len())
		for k, x := range v.Entries() {
			ks, ok := k.(starlark.String)
			if !ok {
				return nil, fmt.Errorf("dict key of type %s: %w", k.Type(), ErrConvert)
			}
			c, err := convertOut(x)
			if err != nil {
				return nil, err
			}
			out[string(ks)] = c
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %s cannot be returned: %w", v.Type(), ErrConvert)
}

// DecodeJSON parses JSON into JSON-like Go values, keeping integers exact
// (int64 or *big.Int) instead of float64. Input over MaxJSONLen fails.
func DecodeJSON(data []byte) (any, error) {
	if len(data) > MaxJSONLen {
		return nil, fmt.Errorf("decode json: %d bytes, over %d: %w", len(data), MaxJSONLen, ErrTooLarge)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode json: %v: %w", err, ErrConvert)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode json: trailing data: %w", ErrConvert)
	}
	return numbers(v)
}

// numbers replaces json.Number with int64, *big.Int or float64.
func numbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		return parseNumber(string(v))
	case []any:
		for i, x := range v {
			n, err := numbers(x)
			if err != nil {
				return nil, err
			}
			v[i] = n
		}
	case map[string]any:
		for k, x := range v {
			n, err := numbers(x)
			if err != nil {
				return nil, err
			}
			v[k] = n
		}
	}
	return v, nil
}

// MarshalJSON encodes a JSON-like value without HTML escaping; NaN and
// infinities fail.
func MarshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %v: %w", err, ErrConvert)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
