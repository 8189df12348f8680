package main

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/agentnet/agentnode/agents/internal/jsonenc"
)

// WordsPerMinute is the silent reading speed of the reading-time estimate:
// the average for English non-fiction found by Brysbaert's 2019 review of
// 190 studies ("How many words do we read per minute?").
const WordsPerMinute = 238

// TopWords is how many frequent words Stats lists.
const TopWords = 10

// Stats are the statistics of a text.
type Stats struct {
	Bytes       int // length in bytes
	Chars       int // Unicode code points; an invalid UTF-8 byte counts as one
	Words       int // whitespace-separated tokens holding a letter or digit
	UniqueWords int // distinct words, compared in lower case without outer punctuation
	Lines       int // newline-terminated lines, plus a last unterminated one
	Paragraphs  int // runs of non-blank lines
	Sentences   int // see Analyze
	WordLetters int // letters and digits in words, for the average word length
	Top         []WordCount
}

// WordCount is a word and how often it occurs.
type WordCount struct {
	Word  string
	Count int
}

// abbreviations end in a full stop that does not end a sentence.
var abbreviations = map[string]bool{
	"e.g.": true, "i.e.": true, "etc.": true, "vs.": true, "al.": true, "cf.": true, "fig.": true,
	"mr.": true, "mrs.": true, "ms.": true, "dr.": true, "prof.": true, "st.": true, "no.": true,
	"jr.": true, "sr.": true, "inc.": true, "ltd.": true, "approx.": true, "a.m.": true, "p.m.": true,
}

// Analyze computes the statistics of text. A sentence ends at a token
// whose last character (before closing quotes and brackets) is '.', '!',
// '?' or '…', unless the token is a known abbreviation ("e.g.", "Dr.") or
// an initial ("J."); text after the last terminator counts as one more
// sentence when it holds a word.
func Analyze(text string) Stats {
	s := Stats{Bytes: len(text), Chars: utf8.RuneCountInString(text)}
	s.Lines = strings.Count(text, "\n")
	if text != "" && !strings.HasSuffix(text, "\n") {
		s.Lines++
	}
	blank := true
	for line := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(line) == "" {
			blank = true
			continue
		}
		if blank {
			s.Paragraphs++
		}
		blank = false
	}
	counts := map[string]int{}
	open := 0 // words since the last sentence end
	for _, tok := range strings.FieldsFunc(text, unicode.IsSpace) {
		word := strings.TrimFunc(tok, func(r rune) bool { return !isWordRune(r) })
		if word != "" {
			s.Words++
			open++
			for _, r := range word {
				if unicode.IsLetter(r) || unicode.IsDigit(r) {
					s.WordLetters++
				}
			}
			counts[strings.ToLower(word)]++
		}
		if open > 0 && endsSentence(tok) {
			s.Sentences++
			open = 0
		}
	}
	if open > 0 {
		s.Sentences++
	}
	s.UniqueWords = len(counts)
	for w, c := range counts {
		if utf8.RuneCountInString(w) > 1 && !stopwords[w] {
			s.Top = append(s.Top, WordCount{Word: w, Count: c})
		}
	}
	slices.SortFunc(s.Top, func(a, b WordCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Word, b.Word)
	})
	if len(s.Top) > TopWords {
		s.Top = s.Top[:TopWords]
	}
	return s
}

// isWordRune reports runes that may start or end a word.
func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func endsSentence(tok string) bool {
	t := strings.TrimRightFunc(tok, func(r rune) bool { return strings.ContainsRune(`"')]}’”»`, r) })
	last, _ := utf8.DecodeLastRuneInString(t)
	if last != '.' && last != '!' && last != '?' && last != '…' {
		return false
	}
	if last == '.' {
		lower := strings.ToLower(strings.TrimLeftFunc(t, func(r rune) bool { return strings.ContainsRune(`"'([{‘“«`, r) }))
		if abbreviations[lower] {
			return false
		}
		if r, n := utf8.DecodeRuneInString(lower); n+1 == len(lower) && unicode.IsLetter(r) {
			return false // an initial, as in "J. R. R. Tolkien"
		}
	}
	return true
}

// ReadingSeconds estimates the reading time at WordsPerMinute, rounded up.
func (s Stats) ReadingSeconds() int {
	return int(math.Ceil(float64(s.Words) * 60 / WordsPerMinute))
}

// AppendJSON renders the statistics as one JSON object and a newline.
func (s Stats) AppendJSON(b []byte) []byte {
	avgWord, avgSentence := 0.0, 0.0
	if s.Words > 0 {
		avgWord = float64(s.WordLetters) / float64(s.Words)
	}
	if s.Sentences > 0 {
		avgSentence = float64(s.Words) / float64(s.Sentences)
	}
	secs := s.ReadingSeconds()
	b = jsonenc.Key(append(b, '{'), "bytes", true)
	b = jsonenc.Int(b, int64(s.Bytes))
	for _, f := range []struct {
		name string
		v    int
	}{
		{"chars", s.Chars}, {"words", s.Words}, {"unique_words", s.UniqueWords}, {"lines", s.Lines},
		{"paragraphs", s.Paragraphs}, {"sentences", s.Sentences},
	} {
		b = jsonenc.Key(b, f.name, false)
		b = jsonenc.Int(b, int64(f.v))
	}
	b = jsonenc.Key(b, "avg_word_length", false)
	b = jsonenc.Float(b, avgWord, 2)
	b = jsonenc.Key(b, "avg_sentence_words", false)
	b = jsonenc.Float(b, avgSentence, 2)
	b = jsonenc.Key(b, "reading_time_seconds", false)
	b = jsonenc.Int(b, int64(secs))
	b = jsonenc.Key(b, "reading_time", false)
	b = jsonenc.String(b, readable(secs))
	b = jsonenc.Key(b, "words_per_minute", false)
	b = jsonenc.Int(b, WordsPerMinute)
	b = jsonenc.Key(b, "top_words", false)
	b = append(b, '[')
	for i, w := range s.Top {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.Key(append(b, '{'), "word", true)
		b = jsonenc.String(b, w.Word)
		b = jsonenc.Key(b, "count", false)
		b = jsonenc.Int(b, int64(w.Count))
		b = append(b, '}')
	}
	return append(b, ']', '}', '\n')
}

// readable formats seconds as "45 s", "3 min" or "1 h 12 min".
func readable(secs int) string {
	switch {
	case secs < 60:
		return strconv.Itoa(secs) + " s"
	case secs < 3600:
		m, s := secs/60, secs%60
		if s == 0 {
			return strconv.Itoa(m) + " min"
		}
		return strconv.Itoa(m) + " min " + strconv.Itoa(s) + " s"
	}
	h, m := secs/3600, (secs%3600+59)/60
	if m == 60 {
		h, m = h+1, 0
	}
	return strconv.Itoa(h) + " h " + strconv.Itoa(m) + " min"
}

// stopwords are left out of the top words: they would top every text.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again against all am an and any are as at be
		because been before being below between both but by can could did do does doing down during each
		few for from further had has have having he her here hers herself him himself his how i if in into
		is it its itself just me more most my myself no nor not now of off on once only or other our ours
		ourselves out over own same she should so some such than that the their theirs them themselves then
		there these they this those through to too under until up very was we were what when where which
		while who whom why will with would you your yours yourself yourselves also may might must shall
		it's i'm don't can't won't isn't aren't wasn't weren't that's there's`) {
		m[w] = true
	}
	return m
}()
