package main

import (
	"errors"
	"strings"
	"testing"
)

// TestCatalogue checks the bundled catalogue: it parses, is large enough,
// and holds the classics a user will search for, with the right metadata.
func TestCatalogue(t *testing.T) {
	papers, err := parseCatalogue(catalogueTSV)
	if err != nil {
		t.Fatal(err)
	}
	if len(papers) < 200 {
		t.Fatalf("%d papers, want at least 200", len(papers))
	}
	byID := map[string]*Paper{}
	sources := map[string]int{}
	for i := range papers {
		byID[papers[i].ID] = &papers[i]
		sources[papers[i].Source]++
	}
	classics := []struct {
		id, title, firstAuthor string
		year                   int
	}{
		{"1706.03762", "Attention Is All You Need", "Ashish Vaswani", 2017},
		{"1810.04805", "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding", "Jacob Devlin", 2018},
		{"1512.03385", "Deep Residual Learning for Image Recognition", "Kaiming He", 2015},
		{"2005.14165", "Language Models are Few-Shot Learners", "Tom B. Brown", 2020},
		{"1412.6980", "Adam: A Method for Stochastic Optimization", "Diederik P. Kingma", 2014},
		{"1406.2661", "Generative Adversarial Networks", "Ian J. Goodfellow", 2014},
		{"2010.11929", "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale", "Alexey Dosovitskiy", 2020},
		{"2302.13971", "LLaMA: Open and Efficient Foundation Language Models", "Hugo Touvron", 2023},
		{"2106.09685", "LoRA: Low-Rank Adaptation of Large Language Models", "Edward J. Hu", 2021},
		{"2006.11239", "Denoising Diffusion Probabilistic Models", "Jonathan Ho", 2020},
	}
	for _, c := range classics {
		p := byID[c.id]
		if p == nil {
			t.Errorf("catalogue lacks %s (%s)", c.id, c.title)
			continue
		}
		if p.Title != c.title || p.Authors[0] != c.firstAuthor || p.Year != c.year {
			t.Errorf("%s: got %q by %q (%d), want %q by %q (%d)", c.id, p.Title, p.Authors[0], p.Year, c.title, c.firstAuthor, c.year)
		}
	}
	// Every source tag is explained in CATALOGUE.md.
	for tag := range sources {
		if !strings.Contains(catalogueDoc, "`"+tag+"`") {
			t.Errorf("source tag %q is not described in CATALOGUE.md", tag)
		}
	}
}

func TestParseCatalogueErrors(t *testing.T) {
	good := "1706.03762\t2017\tAttention Is All You Need\tAshish Vaswani; Noam Shazeer\tThe first sentence.\tcs336"
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", "no papers"},
		{"only comments", "# c\n\n", "no papers"},
		{"fields", "1706.03762\t2017\ttitle", "3 fields"},
		{"bad id", strings.Replace(good, "1706.03762", "1706.3762", 1), "malformed arXiv id"},
		{"bad month", strings.Replace(good, "1706.03762", "1713.03762", 1), "malformed arXiv id"},
		{"bad year", strings.Replace(good, "\t2017\t", "\t20x7\t", 1), "malformed year"},
		{"year mismatch", strings.Replace(good, "\t2017\t", "\t2016\t", 1), "does not match"},
		{"empty title", strings.Replace(good, "Attention Is All You Need", "", 1), "title"},
		{"title space", strings.Replace(good, "Attention Is", " Attention Is", 1), "title"},
		{"sentence end", strings.Replace(good, "sentence.", "sentence", 1), "does not end"},
		{"control char", strings.Replace(good, "first", "fi\x01rst", 1), "first sentence"},
		{"et al first", strings.Replace(good, "Ashish Vaswani; Noam Shazeer", "et al.", 1), "named author"},
		{"et al middle", strings.Replace(good, "Ashish Vaswani; Noam Shazeer", "A B; et al.; C D", 1), "last author"},
		{"empty author", strings.Replace(good, "; Noam Shazeer", "; ", 1), "author 2"},
		{"bad tag", strings.Replace(good, "cs336", "CS 336", 1), "source tag"},
		{"duplicate", good + "\n" + good, "listed twice"},
		{"invalid utf8", good + "\xff", "UTF-8"},
		{"too large", strings.Repeat("#", maxCatalogueBytes+1), "over the cap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCatalogue(tt.text)
			if !errors.Is(err, errBadCatalogue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := parseCatalogue("# header\n" + good + "\r\n\nhep-th/9711200\t1997\tT\tA\tS.\tx\n"); err != nil {
		t.Fatalf("valid catalogue: %v", err)
	}
}

func TestIDYear(t *testing.T) {
	tests := []struct {
		id   string
		year int
		ok   bool
	}{
		{"1706.03762", 2017, true},
		{"0704.0001", 2007, true},
		{"0703.0001", 0, false},
		{"1412.6980", 2014, true},
		{"1501.00001", 2015, true},
		{"1501.0001", 0, false},
		{"1412.69801", 0, false},
		{"hep-th/9711200", 1997, true},
		{"nlin/0311042", 2003, true},
		{"math.AG/0506001", 2005, true},
		{"math.ag/0506001", 0, false},
		{"cs/1011001", 0, false},
		{"HEP/9711200", 0, false},
		{"/9711200", 0, false},
		{"1706.0376x", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		year, ok := idYear(tt.id)
		if ok != tt.ok || (ok && year != tt.year) {
			t.Errorf("idYear(%q) = %d, %v; want %d, %v", tt.id, year, ok, tt.year, tt.ok)
		}
	}
}

// FuzzParseCatalogue checks that the decoder never panics and that what it
// accepts satisfies the catalogue's invariants.
func FuzzParseCatalogue(f *testing.F) {
	f.Add(catalogueTSV[:2000])
	f.Add("1706.03762\t2017\tT\tA; et al.\tS.\tx\n")
	f.Add("hep-th/9711200\t1997\tT\tA\tS!\tx")
	f.Add("2101.00027\t2020\tT\tA\tS?\tx")
	f.Add("\t\t\t\t\t")
	f.Fuzz(func(t *testing.T, text string) {
		papers, err := parseCatalogue(text)
		if err != nil {
			if !errors.Is(err, errBadCatalogue) {
				t.Fatalf("error %v does not match errBadCatalogue", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range papers {
			if seen[p.ID] || p.Title == "" || p.Sentence == "" || len(p.Authors) == 0 || p.Authors[0] == etAl {
				t.Fatalf("accepted bad paper %+v", p)
			}
			seen[p.ID] = true
		}
		// Whatever parses can be indexed and searched.
		NewIndex(papers).Search(QueryTerms(text))
	})
}
