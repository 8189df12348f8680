package main

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func index(t testing.TB) *Index {
	t.Helper()
	papers, err := parseCatalogue(catalogueTSV)
	if err != nil {
		t.Fatal(err)
	}
	return NewIndex(papers)
}

func TestTerms(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"arxiv papers about attention", []string{"attention"}},
		{"Attention Is All You Need", []string{"attention", "need"}},
		{"Transformers, transformer; TRANSFORMERS!", []string{"transformer", "transformer", "transformer"}},
		{"self-attention GPT-3 16x16", []string{"self", "attention", "gpt", "16x16"}},
		{"learning learned networks studies", []string{"learn", "learn", "network", "study"}},
		{"the of a", nil},
		{"Résumé über naïve", []string{"résumé", "über", "naïve"}},
		{strings.Repeat("x", 41) + " ok", []string{"ok"}},
	}
	for _, tt := range tests {
		if got := Terms(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Terms(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := QueryTerms("attention attention need attention"); !slices.Equal(got, []string{"attention", "need"}) {
		t.Errorf("QueryTerms dedup = %q", got)
	}
	many := strings.Repeat("alpha beta gamma delta epsilon zeta eta theta iota kappa ", 5)
	for i := range 40 {
		many += " word" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	if n := len(QueryTerms(many)); n != maxQueryTerms {
		t.Errorf("QueryTerms kept %d terms, want %d", n, maxQueryTerms)
	}
}

// TestRanking checks the answers a user relies on: the query of the
// testnet scenario ranks attention papers first, with the Transformer
// paper on top, and well-known titles and authors are found.
func TestRanking(t *testing.T) {
	x := index(t)
	top := func(query string, n int) []*Paper {
		t.Helper()
		rs := x.Search(QueryTerms(query))
		if len(rs) < n {
			t.Fatalf("%q: %d results, want at least %d", query, len(rs), n)
		}
		var out []*Paper
		for _, r := range rs[:n] {
			out = append(out, r.Paper)
		}
		return out
	}
	att := top("arxiv papers about attention", 3)
	if att[0].ID != "1706.03762" {
		t.Errorf("attention: first is %s %q, want 1706.03762", att[0].ID, att[0].Title)
	}
	for _, p := range att {
		if !strings.Contains(strings.ToLower(p.Title), "attention") {
			t.Errorf("attention: %s %q in the top 3 has no attention in its title", p.ID, p.Title)
		}
	}
	cases := []struct{ query, id string }{
		{"BERT bidirectional transformers", "1810.04805"},
		{"residual learning image recognition", "1512.03385"},
		{"language models are few-shot learners", "2005.14165"},
		{"stochastic optimization Adam", "1412.6980"},
		{"Vaswani Shazeer", "1706.03762"},
		{"low-rank adaptation", "2106.09685"},
		{"diffusion probabilistic models", "2006.11239"},
		{"chain of thought reasoning", "2201.11903"},
	}
	for _, c := range cases {
		if got := top(c.query, 1)[0]; got.ID != c.id {
			t.Errorf("%q: first is %s %q, want %s", c.query, got.ID, got.Title, c.id)
		}
	}
	if rs := x.Search(QueryTerms("zzzzqqq")); len(rs) != 0 {
		t.Errorf("nonsense query matched %d papers", len(rs))
	}
}

func TestSearchDeterministic(t *testing.T) {
	x := index(t)
	a := x.Search(QueryTerms("language models"))
	for range 5 {
		b := x.Search(QueryTerms("language models"))
		if len(a) != len(b) {
			t.Fatal("result counts differ")
		}
		for i := range a {
			if a[i].Paper.ID != b[i].Paper.ID || a[i].Score != b[i].Score {
				t.Fatalf("result %d differs: %s vs %s", i, a[i].Paper.ID, b[i].Paper.ID)
			}
		}
	}
	for i := 1; i < len(a); i++ {
		if a[i].Score > a[i-1].Score {
			t.Fatalf("results not sorted at %d", i)
		}
	}
}

// FuzzSearch feeds arbitrary queries through the whole request path.
func FuzzSearch(f *testing.F) {
	for _, q := range []string{"attention", "GPT-3", "\xff\xfe", "the of", strings.Repeat("a ", 3000), "日本語 モデル"} {
		f.Add(q)
	}
	x := index(f)
	f.Fuzz(func(t *testing.T, q string) {
		rs := x.Search(QueryTerms(q))
		for i := 1; i < len(rs); i++ {
			if rs[i].Score > rs[i-1].Score {
				t.Fatalf("unsorted results for %q", q)
			}
		}
	})
}

func BenchmarkSearch(b *testing.B) {
	x := index(b)
	terms := QueryTerms("arxiv papers about attention")
	for b.Loop() {
		x.Search(terms)
	}
}

// BenchmarkStartup is the work every run does before searching: parse the
// catalogue and index it.
func BenchmarkStartup(b *testing.B) {
	for b.Loop() {
		papers, err := parseCatalogue(catalogueTSV)
		if err != nil {
			b.Fatal(err)
		}
		NewIndex(papers)
	}
}

// countTerm is the reference for termFrequency: count term in Terms(text).
func countTerm(text, term string) int {
	n := 0
	for _, t := range Terms(text) {
		if t == term {
			n++
		}
	}
	return n
}

// TestTermFrequency checks the scanning term count against the plain
// definition on the catalogue: every term of every field, and every 10th
// term of the catalogue against every field (mostly absent, count 0).
func TestTermFrequency(t *testing.T) {
	papers, err := parseCatalogue(catalogueTSV)
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{}
	var fields []string
	for _, p := range papers {
		fields = append(fields, p.Title, strings.Join(p.Authors, " "), p.Sentence)
	}
	checked := 0
	for _, text := range fields {
		lower := strings.ToLower(text)
		for _, term := range Terms(text) {
			all[term] = true
			if got, want := termFrequency(lower, term), countTerm(text, term); got != want {
				t.Fatalf("termFrequency(%q, %q) = %d, want %d", text, term, got, want)
			}
			checked++
		}
	}
	sample := slices.Sorted(maps.Keys(all))
	for i := 0; i < len(sample); i += 10 {
		for _, text := range fields {
			if got, want := termFrequency(strings.ToLower(text), sample[i]), countTerm(text, sample[i]); got != want {
				t.Fatalf("termFrequency(%q, %q) = %d, want %d", text, sample[i], got, want)
			}
			checked++
		}
	}
	t.Logf("checked %d term/field pairs", checked)
}

// FuzzTermFrequency compares the scanning count with the definition on
// arbitrary texts and queries.
func FuzzTermFrequency(f *testing.F) {
	f.Add("Studies of studying: the studied study", "studies")
	f.Add("FlashAttention attention self-attention", "attention")
	f.Add("Axes and taxes", "ax")
	f.Add("Ünïcödé ÜNÏCÖDÉ", "ünïcödé")
	f.Add("\xff\xfeab ab", "ab")
	f.Fuzz(func(t *testing.T, text, query string) {
		lower := strings.ToLower(text)
		for _, term := range append(QueryTerms(query), QueryTerms(text)...) {
			if got, want := termFrequency(lower, term), countTerm(text, term); got != want {
				t.Fatalf("termFrequency(%q, %q) = %d, want %d", text, term, got, want)
			}
		}
	})
}
