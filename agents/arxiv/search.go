package main

import (
	"math"
	"slices"
	"strings"
	"unicode"
)

// BM25F parameters: the usual k1 and b, and field weights that make a
// query word in the title count three times one in the first sentence
// and an author's name twice.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

const (
	fieldTitle = iota
	fieldAuthors
	fieldSentence
	numFields
)

var fieldWeights = [numFields]float64{3, 2, 1}

// Query caps: a query longer than maxQueryBytes is refused, and only its
// first maxQueryTerms distinct terms are searched.
const (
	maxQueryBytes = 4096
	maxQueryTerms = 32
	maxTokenLen   = 40
)

// posting is one paper's term frequencies for one term, per field.
type posting struct {
	paper int
	tf    [numFields]uint16
}

// Index is an inverted index of the catalogue for BM25F ranking.
type Index struct {
	papers   []Paper
	postings map[string][]posting
	lens     [][numFields]uint16
	avgLen   [numFields]float64
}

// Result is a ranked match.
type Result struct {
	Paper *Paper
	Score float64
}

// NewIndex indexes papers: title, authors and first sentence, each
// through the same [Terms] normalization queries go through.
func NewIndex(papers []Paper) *Index {
	x := &Index{papers: papers, postings: map[string][]posting{}, lens: make([][numFields]uint16, len(papers))}
	var total [numFields]float64
	for i := range papers {
		p := &papers[i]
		texts := [numFields]string{p.Title, strings.Join(p.Authors, " "), p.Sentence}
		tf := map[string]*[numFields]uint16{}
		var order []string
		for f, text := range texts {
			for _, t := range Terms(text) {
				c := tf[t]
				if c == nil {
					c = new([numFields]uint16)
					tf[t] = c
					order = append(order, t)
				}
				if c[f] < math.MaxUint16 {
					c[f]++
				}
				if x.lens[i][f] < math.MaxUint16 {
					x.lens[i][f]++
				}
			}
			total[f] += float64(x.lens[i][f])
		}
		for _, t := range order {
			x.postings[t] = append(x.postings[t], posting{paper: i, tf: *tf[t]})
		}
	}
	for f := range numFields {
		if len(papers) > 0 {
			x.avgLen[f] = total[f] / float64(len(papers))
		}
	}
	return x
}

// Search ranks the papers matching at least one of terms, best first;
// equal scores go to the more recent paper, then to the smaller id, so
// the order is deterministic.
func (x *Index) Search(terms []string) []Result {
	n := float64(len(x.papers))
	scores := map[int]float64{}
	for _, t := range terms {
		ps := x.postings[t]
		if len(ps) == 0 {
			continue
		}
		df := float64(len(ps))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for _, p := range ps {
			tf := 0.0
			for f := range numFields {
				if p.tf[f] == 0 || x.avgLen[f] == 0 {
					continue
				}
				norm := 1 - bm25B + bm25B*float64(x.lens[p.paper][f])/x.avgLen[f]
				tf += fieldWeights[f] * float64(p.tf[f]) / norm
			}
			scores[p.paper] += idf * tf / (bm25K1 + tf)
		}
	}
	out := make([]Result, 0, len(scores))
	for i, s := range scores {
		out = append(out, Result{Paper: &x.papers[i], Score: s})
	}
	slices.SortFunc(out, func(a, b Result) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		case a.Paper.Year != b.Paper.Year:
			return b.Paper.Year - a.Paper.Year
		}
		return strings.Compare(a.Paper.ID, b.Paper.ID)
	})
	return out
}

// Terms turns text into search terms, in order and with repeats:
// lowercase, split at anything that is not a letter or digit, drop
// stopwords, one-character tokens and tokens over 40 bytes, then stem
// lightly. Queries and papers go through the same function, so "papers
// about attention" finds papers whose title says "Attention".
func Terms(text string) []string {
	fields := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := fields[:0]
	for _, f := range fields {
		if len(f) < 2 || len(f) > maxTokenLen || stopwords[f] {
			continue
		}
		if t := stem(f); len(t) >= 2 && !stopwords[t] {
			out = append(out, t)
		}
	}
	return out
}

// QueryTerms returns the distinct terms of a query, at most maxQueryTerms.
func QueryTerms(query string) []string {
	var out []string
	for _, t := range Terms(query) {
		if len(out) == maxQueryTerms {
			break
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// stem strips common English inflections from a lowercase ASCII word, so
// that "transformers" meets "transformer" and "learning" meets "learned".
// It is deliberately light (no dictionary); words with other letters pass
// through unchanged.
func stem(w string) string {
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return w
		}
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "xes") || strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "shes"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "s") && len(w) > 3 && !strings.HasSuffix(w, "ss") &&
		!strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		w = w[:len(w)-1]
	}
	switch {
	case strings.HasSuffix(w, "ing") && len(w) > 5:
		w = undouble(w[:len(w)-3])
	case strings.HasSuffix(w, "ed") && len(w) > 4:
		w = undouble(w[:len(w)-2])
	}
	if strings.HasSuffix(w, "e") && len(w) > 3 {
		w = w[:len(w)-1]
	}
	return w
}

// undouble turns a doubled final consonant into one ("runn" -> "run"),
// except l, s and z ("modell" stays, as "modelling" meets "modell").
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && !strings.ContainsRune("aeioulsz", rune(w[n-1])) {
		return w[:n-1]
	}
	return w
}

// stopwords are dropped from papers and queries: English function words,
// and the words people wrap a query in ("arxiv papers about ...") that
// would otherwise match every paper in an arXiv catalogue.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again against all am an and any are as at be
		because been before being below between both but by can could did do does doing down during each
		few for from further had has have having he her here hers herself him himself his how i if in into
		is it its itself just me more most my myself no nor not now of off on once only or other our ours
		ourselves out over own same she should so some such than that the their theirs them themselves then
		there these they this those through to too under until up very was we were what when where which
		while who whom why will with would you your yours yourself yourselves
		arxiv paper papers article articles preprint preprints publication publications please find show
		list give search searching looking want related regarding concerning recent`) {
		m[w] = true
	}
	return m
}()
