package script

import (
	"context"
	"testing"

	"go.starlark.net/starlark"
)

const benchSrc = `
CAPS = {"hour": 1000000, "day": 5000000}
TRUSTED = ["tdx", "snp"]

def decide(p):
    req = p["requirements"]
    amount = req["amount"]
    if req["scheme"] != "exact":
        return {"allow": False, "reason": "scheme " + req["scheme"]}
    if p["target"]["platform"] not in TRUSTED:
        return {"allow": False, "reason": "untrusted platform"}
    spent = p["spent"]["total"]
    if spent["hour"] + amount > CAPS["hour"]:
        return {"allow": False, "reason": "hourly cap"}
    if spent["day"] + amount > CAPS["day"]:
        return {"allow": False, "reason": "daily cap"}
    for tag in p["target"]["tags"]:
        if tag.startswith("blocked:"):
            return {"allow": False, "reason": "blocked tag " + tag}
    return {"allow": True, "reason": "ok %d" % amount}
`

func benchInput() map[string]any {
	return map[string]any{
		"requirements": map[string]any{"scheme": "exact", "amount": 10000},
		"target":       map[string]any{"platform": "tdx", "tags": []any{"search", "arxiv"}},
		"spent":        map[string]any{"total": map[string]any{"hour": 20000, "day": 90000}},
	}
}

// BenchmarkCall measures one call of a 20-line policy through the guard,
// argument conversion included.
func BenchmarkCall(b *testing.B) {
	m, err := Compile(context.Background(), Program{Filename: "b.star", Source: []byte(benchSrc)})
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput()
	ctx := context.Background()
	for b.Loop() {
		res, err := m.Call(ctx, "decide", []any{in}, Limits{})
		if err != nil || res.Value.(map[string]any)["allow"] != true {
			b.Fatal(res.Value, err)
		}
	}
}

// BenchmarkCallUnguarded is the same call on plain go.starlark.net, the
// baseline for the guard's overhead.
func BenchmarkCallUnguarded(b *testing.B) {
	th := &starlark.Thread{}
	g, err := starlark.ExecFileOptions(&fileOptions, th, "b.star", benchSrc, nil)
	if err != nil {
		b.Fatal(err)
	}
	g.Freeze()
	fn := g["decide"]
	in := benchInput()
	for b.Loop() {
		arg, err := ToValue(in)
		if err != nil {
			b.Fatal(err)
		}
		th := &starlark.Thread{}
		v, err := starlark.Call(th, fn, starlark.Tuple{arg}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := FromValue(v, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
