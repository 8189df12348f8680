package script

import (
	"context"
	"errors"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

func prog(src string) Program { return Program{Filename: "t.star", Source: []byte(src)} }

func TestRunReturnsValues(t *testing.T) {
	src := `
def main(args):
    print("hello", args["name"])
    big = 1 << 200
    return {
        "sum": args["n"] + 1,
        "big": big,
        "squares": [i * i for i in range(4)],
        "tuple": (1, "a"),
        "none": None,
        "flag": True,
        "f": 0.5,
        "s": "ab".upper()[1:],
    }
`
	res, err := Run(context.Background(), prog(src), "main", []any{map[string]any{"name": "x", "n": 41}}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Value.(map[string]any)
	if m["sum"] != int64(42) || m["none"] != nil || m["flag"] != true || m["f"] != 0.5 || m["s"] != "B" {
		t.Fatalf("value = %#v", m)
	}
	if m["big"].(*big.Int).Cmp(new(big.Int).Lsh(big.NewInt(1), 200)) != 0 {
		t.Fatalf("big = %v", m["big"])
	}
	if res.Output != "hello x\n" || res.Steps == 0 {
		t.Fatalf("output %q steps %d", res.Output, res.Steps)
	}
	text, err := res.Text()
	if err != nil || !strings.Contains(text, `"big":1606938044258990275541962092341162602522202993782792835301376`) {
		t.Fatalf("Text = %s, %v", text, err)
	}
	res, err = Run(context.Background(), prog("def main(): return 'plain'"), "main", nil, Limits{})
	if s, _ := res.Text(); err != nil || s != "plain" {
		t.Fatalf("string result Text = %q, %v", s, err)
	}
}

// TestLimitsStopBombs runs scripts that would exhaust the machine without
// the guard. Each must stop with the named kind, at the right line, fast,
// and without allocating much.
func TestLimitsStopBombs(t *testing.T) {
	cases := []struct {
		name, src string
		kind      error
		line      int32
	}{
		{"infinite loop", "def main():\n    while True:\n        pass\n", ErrSteps, 2},
		{"huge range loop", "def main():\n    n = 0\n    for i in range(1 << 60):\n        n += 1\n", ErrSteps, 3},
		{"recursion", "def f(n):\n    return f(n + 1)\ndef main():\n    return f(0)\n", ErrRecursion, 2},
		{"mutual recursion", "def f(n):\n    return g(n)\ndef g(n):\n    return f(n)\ndef main():\n    return f(0)\n", ErrRecursion, 2},
		{"list repeat 1e9", "def main():\n    return [0] * 1000000000\n", ErrSteps, 2},
		{"list repeat 1e7", "def main():\n    return [0] * 10000000\n", ErrMemory, 2},
		{"string repeat 1e9", "def main():\n    return 'x' * 1000000000\n", ErrSteps, 2},
		{"string repeat 1e8", "def main():\n    return 'x' * 100000000\n", ErrMemory, 2},
		{"string doubling", "def main():\n    s = 'x'\n    for i in range(40):\n        s = s + s\n", ErrMemory, 4},
		{"string doubling +=", "def main():\n    s = 'x'\n    for i in range(40):\n        s += s\n", ErrMemory, 4},
		{"list doubling +=", "def main():\n    l = [1]\n    for i in range(40):\n        l += l\n", ErrMemory, 4},
		{"nested list growth str", "def main():\n    l = [1]\n    for i in range(40):\n        l = [l, l]\n    return str(l)\n", ErrSteps, 5},
		{"nested list growth result", "def main():\n    l = [1]\n    for i in range(40):\n        l = [l, l]\n    return l\n", ErrConvert, 0},
		{"deep nesting", "def main():\n    l = []\n    for i in range(10000):\n        l = [l]\n    return repr(l)\n", ErrMemory, 5},
		{"tuple dag hash", "def main():\n    t = (1,)\n    for i in range(60):\n        t = (t, t)\n    return {t: 1}\n", ErrSteps, 5},
		{"tuple dag compare", "def main():\n    a = (1,) * 100\n    b = (1,) * 100\n    for i in range(9):\n        a = (a,) * 100\n        b = (b,) * 100\n    return a == b\n", ErrSteps, 7},
		{"bigint squaring", "def main():\n    x = 3\n    for i in range(64):\n        x = x * x\n", ErrMemory, 4},
		{"bigint shift", "def main():\n    x = 1\n    for i in range(100):\n        x = x << 500\n", ErrMemory, 4},
		{"list of huge range", "def main():\n    return list(range(1 << 40))\n", ErrSteps, 2},
		{"all of huge range", "def main():\n    return all(range(1, 1 << 62))\n", ErrSteps, 2},
		{"sorted huge", "def main():\n    return sorted(range(1 << 30))\n", ErrSteps, 2},
		{"join amplification", "def main():\n    s = 'ab' * 500\n    return ','.join([s] * 100000)\n", ErrMemory, 3},
		{"replace amplification", "def main():\n    s = 'a' * 10000\n    return s.replace('a', s)\n", ErrMemory, 3},
		{"format amplification", "def main():\n    s = 'a' * 100000\n    return ('%s' * 1000) % tuple([s] * 1000)\n", ErrMemory, 3},
		{"format method", "def main():\n    s = 'a' * 100000\n    return ('{0}' * 1000).format(s)\n", ErrMemory, 3},
		{"slice copies", "def main():\n    big = list(range(100000))\n    keep = []\n    for i in range(1000):\n        keep.append(big[:])\n", ErrMemory, 5},
		{"split pieces", "def main():\n    s = ' ' * 10000000\n    return s.split(' ')\n", ErrMemory, 3},
		{"hash flooding ints", "def main():\n    d = {}\n    for i in range(1000):\n        d[i << 64] = i\n", ErrSteps, 4},
		{"hash flooding set", "def main():\n    return set([i << 64 for i in range(100)])\n", ErrSteps, 2},
		{"int parse", "def main():\n    return int('9' * 100000)\n", ErrMemory, 2},
		{"membership scan loop", "def main():\n    l = list(range(100000))\n    n = 0\n    for i in range(100000):\n        if -1 in l:\n            n += 1\n", ErrSteps, 5},
		{"insert at front", "def main():\n    l = list(range(100000))\n    for i in range(100000):\n        l.insert(0, i)\n", ErrSteps, 4},
		{"getattr method", "def main():\n    s = 'a' * 10000\n    r = getattr(s, 'replace')\n    return r('a', s)\n", ErrMemory, 4},
		{"bound method later", "def main():\n    s = 'a' * 10000\n    r = s.replace\n    return r('a', s)\n", ErrMemory, 4},
		{"star args", "def f(*a):\n    return len(a)\ndef main():\n    l = list(range(500000))\n    n = 0\n    for i in range(10000):\n        n += f(*l)\n", ErrMemory, 7},
		{"dict items copies", "def main():\n    d = {i: i for i in range(20000)}\n    keep = []\n    for i in range(1000):\n        keep.append(d.items())\n", ErrMemory, 5},
		{"print flood", "def main():\n    s = 'a' * 1000000\n    for i in range(100):\n        print(s, s, s, s)\n", ErrMemory, 4},
		{"print separator", "def main():\n    sep = 'x' * 10000\n    print(sep = sep, *list(range(10000)))\n", ErrMemory, 3},
		{"fail separator", "def main():\n    fail(sep = 'x' * 10000, *list(range(10000)))\n", ErrMemory, 2},
		{"dict union doubling", "def main():\n    d = {i: i for i in range(1000)}\n    keep = []\n    for i in range(10000):\n        keep.append(d | d)\n", ErrMemory, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			// A long timeout: the step and memory limits must stop these,
			// also under the race detector's slowdown.
			_, err := Run(context.Background(), prog(c.src), "main", nil, Limits{Timeout: time.Minute})
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			var se *Error
			if !errors.As(err, &se) || !errors.Is(err, c.kind) {
				t.Fatalf("got %v, want %v", err, c.kind)
			}
			if c.line != 0 && se.Line != c.line {
				t.Errorf("error at line %d, want %d: %v", se.Line, c.line, err)
			}
			if c.line != 0 && !strings.HasPrefix(err.Error(), "t.star:") {
				t.Errorf("error lacks file:line: %v", err)
			}
			if elapsed > 3*time.Second*raceSlowdown {
				t.Errorf("took %v", elapsed)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
				t.Errorf("allocated %d MiB", grew>>20)
			}
			t.Logf("%v (%v, %d KiB)", err, elapsed.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>10)
		})
	}
}

func TestDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, prog("def main():\n    while True:\n        pass\n"), "main", nil, Limits{MaxSteps: 1 << 62})
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("got %v, want ErrDeadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("stopped after %v", d)
	}
	_, err = Run(context.Background(), prog("def main():\n    while True:\n        pass\n"), "main", nil, Limits{MaxSteps: 1 << 62, Timeout: 30 * time.Millisecond})
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("Limits.Timeout: got %v", err)
	}
}

func TestHermetic(t *testing.T) {
	for name, c := range map[string]struct {
		src  string
		kind error
		line int32
	}{
		"load":           {"load('x.star', 'y')\ndef main(): pass\n", ErrSyntax, 1},
		"no time":        {"def main():\n    return time.now()\n", ErrSyntax, 2},
		"no os":          {"def main():\n    return os.environ\n", ErrSyntax, 2},
		"no open":        {"def main():\n    return open('/etc/passwd')\n", ErrSyntax, 2},
		"no guard names": {"def main():\n    return __import__('os')\n", ErrSyntax, 2},
		"syntax":         {"def main(:\n", ErrSyntax, 1},
		"aug with call":  {"def f(): return 0\ndef main():\n    l = [1]\n    l[f()] += 1\n", ErrSyntax, 4},
	} {
		_, err := Run(context.Background(), prog(c.src), "main", nil, Limits{})
		var se *Error
		if !errors.As(err, &se) || !errors.Is(err, c.kind) || se.Line != c.line {
			t.Errorf("%s: got %v (line %v), want %v at line %d", name, err, se, c.kind, c.line)
		}
	}
	// Globals are frozen: calls cannot leak state into later calls.
	m, err := Compile(context.Background(), prog("seen = []\ndef main():\n    seen.append(1)\n    return len(seen)\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Call(context.Background(), "main", nil, Limits{}); !errors.Is(err, ErrRuntime) || !strings.Contains(err.Error(), "frozen") {
		t.Fatalf("mutating a global: got %v", err)
	}
}

func TestErrorPositions(t *testing.T) {
	src := "def inner(d):\n    return d['missing']\n\ndef outer(d):\n    return inner(d)\n\ndef main():\n    return outer({})\n"
	_, err := Run(context.Background(), Program{Filename: "policy.star", Source: []byte(src)}, "main", nil, Limits{})
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, ErrRuntime) {
		t.Fatalf("got %v", err)
	}
	if se.Position() != "policy.star:2:13" || se.Func != "inner" {
		t.Fatalf("position %s in %s; want policy.star:2:13 in inner", se.Position(), se.Func)
	}
	for _, want := range []string{"policy.star:8:17: in main", "policy.star:5:17: in outer", "policy.star:2:13: in inner"} {
		if !strings.Contains(se.Backtrace, want) {
			t.Errorf("backtrace lacks %q:\n%s", want, se.Backtrace)
		}
	}
	if strings.Contains(se.Backtrace, "$") {
		t.Errorf("backtrace shows guard frames:\n%s", se.Backtrace)
	}
	if _, err := Run(context.Background(), prog("def f(): pass\n"), "main", nil, Limits{}); !errors.Is(err, ErrNoFunction) {
		t.Fatalf("missing entry: %v", err)
	}
	if _, err := Run(context.Background(), prog("def main(): return main\n"), "main", nil, Limits{}); !errors.Is(err, ErrConvert) {
		t.Fatalf("function result: %v", err)
	}
	if _, err := Run(context.Background(), Program{Source: make([]byte, MaxSourceLen+1)}, "main", nil, Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge source: %v", err)
	}
}

// TestSemanticsPreserved runs snippets instrumented and plain: the guard
// must not change what a script computes.
func TestSemanticsPreserved(t *testing.T) {
	snippets := []string{
		`result = [1, 2, 3, 4, 5][::-2] + [1, 2, 3][-2:] + [1, 2, 3][5:1:-1] + list("abc".elems())[1:]`,
		`result = ("hello"[1:4], "hello"[::-1], "hello"[-100:100], b"bytes"[1:3], (1, 2, 3)[1:])`,
		"l = [1]\nm = l\nl += [2]\nl += (3,)\nresult = (l, m, len(m))",
		"d = {'a': 1}\nd['a'] += 5\nd['b'] = d.get('b', 0) + 1\nresult = sorted(d.items())",
		"x = 5\nx -= 2\nx *= 3\nx //= 2\nx %= 4\nx <<= 3\nx >>= 1\nx |= 1\nx &= 7\nx ^= 2\nresult = x",
		`result = ("%s-%d-%r" % ("a", 3, "q"), "{}|{x}".format(1, x=2), "%(k)s" % {"k": "v"})`,
		`result = ",".join(["a", "b"]) + "x".join([]) + "a-b-c".replace("-", "+", 1)`,
		`result = ("a b  c".split(), "a,b".split(","), "x\ny".splitlines(), " s ".strip(), "ab".upper(), "Ab".lower())`,
		`result = (3 in [1, 2, 3], "b" in "abc", 2 in {2: 1}, 4 not in (1, 2), 1 in set([1]), 5 in range(10))`,
		`result = ([1, 2] < [1, 3], (1, "a") == (1, "a"), {"a": 1} == {"a": 1}, "a" < "b", 1 != 2, 2 >= 2)`,
		`result = (set([1, 2]) | set([2, 3]), set([1, 2]) & set([2]), set([1, 2]) - set([1]), set([1]) ^ set([2]))`,
		`result = ({"a": 1} | {"b": 2}, 7 // 2, 7 / 2, -7 % 3, 2 * "ab", [0] * 3, (1,) * 2, 1 << 70)`,
		`result = sorted([3, 1, 2], key=lambda x: -x) + [max([1, 5, 2]), min(4, 2, 8), max("abc".elems())]`,
		`result = (list(enumerate("ab".elems())), list(zip([1, 2], "ab".elems())), list(reversed([1, 2])), tuple([1]), dict(a=1), dict([("b", 2)]))`,
		`result = (str(1.5), repr("q\n"), str([1, "a"]), int("42"), int("ff", 16), float("1.5"), hash("abc") == hash("abc"))`,
		"l = [3, 1]\nl.append(2)\nl.extend([5])\nl.insert(0, 9)\nl.remove(1)\nresult = (l, l.index(2), l.pop(), l)",
		"s = set([1])\ns.add(2)\ns.discard(5)\ns2 = s.union([7])\nresult = (sorted(s), sorted(s2), s.issubset([1, 2, 3]), sorted(s.intersection([2])))",
		"d = {}\nd.setdefault('k', []).append(1)\nd.update({'z': 0}, y=2)\nresult = (d, d.pop('z'), sorted(d.keys()), d.values())",
		"f = 'abc'.upper\ng = getattr('x', 'upper')\nresult = (f(), g(), getattr([], 'nope', 'dflt'), hasattr('', 'split'))",
		"def f(a, b=2, *args, **kw):\n    return (a, b, args, sorted(kw.items()))\nresult = (f(1), f(1, *[3, 4]), f(**{'a': 5, 'z': 6}))",
		"result = [x * y for x in range(3) if x for y in [x, x + 1]] + [k for k in {'a': 1, 'b': 2}]",
		"result = {k: v * 2 for k, v in [('a', 1), ('b', 2)]}",
		"t = [[1, 2], [3, 4]]\nt[1][0] += 10\nresult = t",
		"x = [0]\ni = 0\nwhile i < 5:\n    x[0] += i\n    i += 1\nresult = x",
		"result = (-(1 << 100)) * 3 + (1 << 64) - ~5",
		"result = [i for i in 'héllo'.codepoints()] + list(b'ab'.elems()) + list('ab'.elem_ords())",
		"result = (list(range(10)[2:8:3]), len(range(1 << 40)[1:]), range(5)[::-1][0])",
		"result = '%r|{!r}'.format('a') % ('q',)",
		"result = 'xyz'.find('y') + 'xyz'.count('z') + len('abc'.partition('b')) + ('a' if 'abc'.startswith(('x', 'a')) else 'b').count('a')",
	}
	for _, src := range snippets {
		plainTh := &starlark.Thread{}
		plain, perr := starlark.ExecFileOptions(&fileOptions, plainTh, "p.star", src, nil)
		m, gerr := Compile(context.Background(), Program{Filename: "p.star", Source: []byte(src)})
		if perr != nil || gerr != nil {
			t.Errorf("%s\nplain err %v, guarded err %v", src, perr, gerr)
			continue
		}
		if got, want := m.globals["result"].String(), plain["result"].String(); got != want {
			t.Errorf("%s\nguarded: %s\nplain:   %s", src, got, want)
		}
	}
}

func TestConcurrentCalls(t *testing.T) {
	m, err := Compile(context.Background(), prog("LIMIT = 100\ndef main(x):\n    return x['v'] * 2 if x['v'] < LIMIT else -1\n"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				v := int64(i*50 + j)
				res, err := m.Call(context.Background(), "main", []any{map[string]any{"v": v}}, Limits{})
				want := v * 2
				if v >= 100 {
					want = -1
				}
				if err != nil || res.Value != want {
					t.Errorf("Call(%d) = %v, %v", v, res.Value, err)
				}
			}
		}()
	}
	wg.Wait()
}

func TestPredeclaredAndOutput(t *testing.T) {
	m, err := Compile(context.Background(), prog("def main():\n    CONF['x'] = 1\n"), WithPredeclared(map[string]any{"CONF": map[string]any{"k": "v"}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Call(context.Background(), "main", nil, Limits{}); err == nil || !strings.Contains(err.Error(), "frozen") {
		t.Fatalf("host values must be frozen: %v", err)
	}
	if _, err := Compile(context.Background(), prog(""), WithPredeclared(map[string]any{"len": 1})); !errors.Is(err, ErrConvert) {
		t.Fatalf("shadowing a built-in: %v", err)
	}
	res, err := Run(context.Background(), prog("def main():\n    for i in range(100):\n        print('0123456789')\n"), "main", nil, Limits{MaxOutput: 50})
	if err != nil || len(res.Output) != 50 || !res.Truncated {
		t.Fatalf("output %d bytes, truncated %v, err %v", len(res.Output), res.Truncated, err)
	}
}

func TestCheck(t *testing.T) {
	src := `
def double(x):
    return 2 * x

def test_double():
    assert_eq(double(2), 4)

def test_wrong():
    assert_eq(double(2), 5, "arithmetic")

def test_fails():
    assert_fails(lambda: double(None), "unknown binary op")

def test_params(x):
    pass

def test_loops_forever():
    while True:
        pass
`
	r, err := Check(context.Background(), prog(src), Limits{MaxSteps: 10000})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tr := range r.Tests {
		got[tr.Name] = "ok"
		if tr.Err != nil {
			got[tr.Name] = tr.Err.Error()
		}
	}
	if got["test_double"] != "ok" || got["test_fails"] != "ok" ||
		!strings.Contains(got["test_wrong"], "t.star:9:14: in test_wrong: assert_eq: got 4, want 5: arithmetic") ||
		!strings.Contains(got["test_params"], "takes no parameters") ||
		!strings.Contains(got["test_loops_forever"], "step limit exceeded") || r.Passed() {
		t.Fatalf("report: %#v", got)
	}
	if len(r.Functions) != 6 {
		t.Fatalf("functions %v", r.Functions)
	}
	if _, err := Check(context.Background(), prog("def f(:"), Limits{}); !errors.Is(err, ErrSyntax) {
		t.Fatalf("Check of bad syntax: %v", err)
	}
}

func TestJSON(t *testing.T) {
	v, err := DecodeJSON([]byte(`{"a": 1, "b": 123456789012345678901234567890, "c": 1.5, "d": [true, null, "x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	sv, err := ToValue(v)
	if err != nil {
		t.Fatal(err)
	}
	if got := sv.String(); got != `{"a": 1, "b": 123456789012345678901234567890, "c": 1.5, "d": [True, None, "x"]}` {
		t.Fatalf("ToValue = %s", got)
	}
	back, err := FromValue(sv, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := MarshalJSON(back)
	if err != nil || string(out) != `{"a":1,"b":123456789012345678901234567890,"c":1.5,"d":[true,null,"x"]}` {
		t.Fatalf("MarshalJSON = %s, %v", out, err)
	}
	for _, bad := range []string{`{`, `1 2`, `{"a":1}x`} {
		if _, err := DecodeJSON([]byte(bad)); !errors.Is(err, ErrConvert) {
			t.Errorf("DecodeJSON(%q) = %v", bad, err)
		}
	}
	if _, err := DecodeJSON(make([]byte, MaxJSONLen+1)); !errors.Is(err, ErrTooLarge) {
		t.Error("oversized JSON accepted")
	}
	if _, err := ToValue(map[int]int{1: 1}); !errors.Is(err, ErrConvert) {
		t.Error("map with int keys accepted")
	}
	if _, err := ToValue(struct{}{}); !errors.Is(err, ErrConvert) {
		t.Error("struct accepted")
	}
}

// TestArgumentFlooding: dict keys arriving from outside (JSON arguments)
// are checked for hash flooding like the script's own.
func TestArgumentFlooding(t *testing.T) {
	m, err := Compile(context.Background(), prog("def main(a):\n    return len(a)\n"))
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]any{}
	for i := range 5000 {
		ok[strings.Repeat("k", i%50)+string(rune('a'+i%26))+big.NewInt(int64(i)).String()] = i
	}
	if res, err := m.Call(context.Background(), "main", []any{ok}, Limits{}); err != nil || res.Value != int64(5000) {
		t.Fatalf("5000 ordinary keys: %v, %v", res.Value, err)
	}
}
