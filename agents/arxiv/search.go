package main

import (
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/agentnet/agentnode/p2p/stem"
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

// Index ranks the catalogue with BM25F. It keeps each field lowercased
// and its length in terms; a search scans the fields for the query terms
// alone, which in a WebAssembly guest is several times cheaper than
// building an inverted index of every term on each run.
type Index struct {
	papers []Paper
	lower  [][numFields]string
	lens   [][numFields]int
	avgLen [numFields]float64
}

// Result is a ranked match.
type Result struct {
	Paper *Paper
	Score float64
}

// NewIndex indexes papers: title, authors and first sentence, measured
// with the same normalization [Terms] applies to queries.
func NewIndex(papers []Paper) *Index {
	x := &Index{papers: papers, lower: make([][numFields]string, len(papers)), lens: make([][numFields]int, len(papers))}
	var total [numFields]float64
	for i := range papers {
		p := &papers[i]
		texts := [numFields]string{p.Title, strings.Join(p.Authors, " "), p.Sentence}
		for f, text := range texts {
			l := strings.ToLower(text)
			x.lower[i][f] = l
			n := 0
			forEachToken(l, func(tok string) {
				if keep(tok) {
					n++
				}
			})
			x.lens[i][f] = n
			total[f] += float64(n)
		}
	}
	for f := range numFields {
		if len(papers) > 0 {
			x.avgLen[f] = total[f] / float64(len(papers))
		}
	}
	return x
}

// Search ranks the papers matching at least one of terms (as [QueryTerms]
// returns them), best first; equal scores go to the more recent paper,
// then to the smaller id, so the order is deterministic.
func (x *Index) Search(terms []string) []Result {
	n := float64(len(x.papers))
	scores := make([]float64, len(x.papers))
	tf := make([][numFields]int, len(x.papers))
	for _, t := range terms {
		df := 0
		for i := range x.papers {
			matched := false
			for f := range numFields {
				tf[i][f] = termFrequency(x.lower[i][f], t)
				matched = matched || tf[i][f] > 0
			}
			if matched {
				df++
			}
		}
		if df == 0 {
			continue
		}
		idf := math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
		for i := range x.papers {
			w := 0.0
			for f := range numFields {
				if tf[i][f] == 0 || x.avgLen[f] == 0 {
					continue
				}
				norm := 1 - bm25B + bm25B*float64(x.lens[i][f])/x.avgLen[f]
				w += fieldWeights[f] * float64(tf[i][f]) / norm
			}
			if w > 0 {
				scores[i] += idf * w / (bm25K1 + w)
			}
		}
	}
	var out []Result
	for i, s := range scores {
		if s > 0 {
			out = append(out, Result{Paper: &x.papers[i], Score: s})
		}
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

// termFrequency counts the tokens of lower (a lowercased text) that
// [Terms] would turn into term. Stemming only cuts the ending of an a-z
// word (and may add a final y), so such a token always starts with term
// minus its last letter, and any other token equals term:
// strings.Index finds the candidates and only those are stemmed.
func termFrequency(lower, term string) int {
	prefix := term
	if len(term) > 2 && isASCIILower(term) {
		prefix = term[:len(term)-1]
	}
	n := 0
	for i := 0; i < len(lower); {
		j := strings.Index(lower[i:], prefix)
		if j < 0 {
			break
		}
		start, end := tokenAt(lower, i+j)
		if end <= i+j { // the match does not start a letter or digit
			i += j + 1
			continue
		}
		if tok := lower[start:end]; keep(tok) && stem.Word(tok) == term {
			n++
		}
		i = end
	}
	return n
}

// isASCIILower reports whether s is all a-z: only such words are stemmed.
func isASCIILower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// tokenAt returns the bounds of the run of letters and digits around
// byte offset at, which must be inside one.
func tokenAt(s string, at int) (int, int) {
	start, end := at, at
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:start])
		if !isTokenRune(r) {
			break
		}
		start -= size
	}
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if !isTokenRune(r) {
			break
		}
		end += size
	}
	return start, end
}

func isTokenRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// forEachToken calls fn with each maximal run of letters and digits of s,
// deciding ASCII bytes without decoding them (most of the catalogue is
// ASCII, and a run decodes every field of it).
func forEachToken(s string, fn func(string)) {
	start := -1
	for i := 0; i < len(s); {
		c, size := s[i], 1
		var in bool
		if c < utf8.RuneSelf {
			in = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z'
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			in = isTokenRune(r)
		}
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			fn(s[start:i])
			start = -1
		}
		i += size
	}
	if start >= 0 {
		fn(s[start:])
	}
}

// keep reports whether a lowercased token is a term: 2-40 bytes, not a
// stopword.
func keep(tok string) bool {
	return len(tok) >= 2 && len(tok) <= maxTokenLen && !stopwords[tok]
}

// Terms turns text into search terms, in order and with repeats:
// lowercase, split at anything that is not a letter or digit, drop
// stopwords, one-character tokens and tokens over 40 bytes, then stem
// lightly (a stem is never shorter than two bytes). Queries and papers go through the same function, so "papers
// about attention" finds papers whose title says "Attention".
func Terms(text string) []string {
	var out []string
	forEachToken(strings.ToLower(text), func(tok string) {
		if keep(tok) {
			out = append(out, stem.Word(tok))
		}
	})
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
