package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"strings"
	"testing"
)

//go:embed CATALOGUE.md
var catalogueDoc string

func runAgent(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

type answer struct {
	Query     string   `json:"query"`
	Terms     []string `json:"terms"`
	Total     int      `json:"total"`
	Catalogue int      `json:"catalogue"`
	Results   []struct {
		Rank          int      `json:"rank"`
		ID            string   `json:"id"`
		Title         string   `json:"title"`
		Authors       []string `json:"authors"`
		Year          int      `json:"year"`
		FirstSentence string   `json:"first_sentence"`
		URL           string   `json:"url"`
		Score         float64  `json:"score"`
	} `json:"results"`
	Error string `json:"error"`
}

func TestRunJSON(t *testing.T) {
	code, out, stderr := runAgent(t, "", "--json", "--limit", "3", "arxiv", "papers", "about", "attention")
	if code != exitOK || stderr != "" {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	var a answer
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if a.Query != "arxiv papers about attention" || len(a.Terms) != 1 || a.Terms[0] != "attention" {
		t.Fatalf("query echo %q terms %q", a.Query, a.Terms)
	}
	if len(a.Results) != 3 || a.Total < 3 || a.Catalogue < 200 {
		t.Fatalf("got %d results of %d in %d", len(a.Results), a.Total, a.Catalogue)
	}
	r := a.Results[0]
	if r.Rank != 1 || r.ID != "1706.03762" || r.Year != 2017 || r.URL != "https://arxiv.org/abs/1706.03762" ||
		len(r.Authors) != 8 || !strings.HasPrefix(r.FirstSentence, "The dominant sequence transduction") || r.Score <= 0 {
		t.Fatalf("first result %+v", r)
	}
	if !strings.HasSuffix(out, "}\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("want one JSON line, got %q", out)
	}
}

func TestRunText(t *testing.T) {
	code, out, _ := runAgent(t, "residual learning\n", "--limit", "1")
	if code != exitOK {
		t.Fatalf("code %d", code)
	}
	want := `1. Deep Residual Learning for Image Recognition (2015)
   Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun
   Deeper neural networks are more difficult to train.
   arXiv:1512.03385  https://arxiv.org/abs/1512.03385
`
	if !strings.Contains(out, want) || !strings.HasPrefix(out, "1 of ") || !strings.Contains(out, `) for "residual learning"`) {
		t.Fatalf("text answer:\n%s", out)
	}
	code, out, _ = runAgent(t, "", "--", "--json", "qqqzzz")
	if code != exitOK || !strings.HasPrefix(out, `No paper in the catalogue of `) || !strings.Contains(out, `"--json qqqzzz"`) {
		t.Fatalf("no-match answer %d %q", code, out)
	}
	code, out, _ = runAgent(t, "", "--limit=50", "language", "models")
	if code != exitOK || strings.Count(out, "arXiv:") != 50 {
		t.Fatalf("--limit=50 gave %d results", strings.Count(out, "arXiv:"))
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"empty", "", nil, "empty query"},
		{"blank stdin", " \n\t", nil, "empty query"},
		{"stopwords only", "", []string{"papers", "about", "the"}, "no searchable words"},
		{"unknown flag", "", []string{"--fast", "x"}, "unknown flag"},
		{"limit zero", "", []string{"--limit", "0", "x"}, "--limit"},
		{"limit big", "", []string{"--limit=51", "x"}, "--limit"},
		{"limit missing", "", []string{"x", "--limit"}, "needs a number"},
		{"both inputs", "stdin", []string{"args"}, "both as arguments and on standard input"},
		{"too long", strings.Repeat("a", maxQueryBytes+1), nil, "cap of 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runAgent(t, tt.stdin, tt.args...)
			if code != exitUsage || out != "" || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "usage:") {
				t.Fatalf("code %d, stdout %q, stderr %q", code, out, stderr)
			}
			code, out, _ = runAgent(t, tt.stdin, append([]string{"--json"}, tt.args...)...)
			var a answer
			if code != exitUsage || json.Unmarshal([]byte(out), &a) != nil || !strings.Contains(a.Error, tt.want) {
				t.Fatalf("JSON mode: code %d, stdout %q", code, out)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	code, out, _ := runAgent(t, "", "--help")
	if code != exitOK || !strings.HasPrefix(out, "usage: agent") {
		t.Fatalf("help: %d %q", code, out)
	}
}
