package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestAnalyze(t *testing.T) {
	text := "The cat sat. The cat ran!\nDr. Smith met J. Doe, e.g. at 10 a.m. today?\n\n“Quoted,” she said… Then left\n"
	s := Analyze(text)
	want := Stats{Bytes: len(text), Chars: len([]rune(text)), Words: 21, Lines: 4, Paragraphs: 2, Sentences: 5}
	if s.Bytes != want.Bytes || s.Chars != want.Chars || s.Words != want.Words || s.Lines != want.Lines ||
		s.Paragraphs != want.Paragraphs || s.Sentences != want.Sentences {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	if s.Top[0] != (WordCount{"cat", 2}) {
		t.Fatalf("top word %+v, want cat×2 (the is a stopword)", s.Top[0])
	}
}

func TestAnalyzeTable(t *testing.T) {
	tests := []struct {
		in                                     string
		words, lines, paragraphs, sentences, u int
	}{
		{"", 0, 0, 0, 0, 0},
		{"\n", 0, 1, 0, 0, 0},
		{"one", 1, 1, 1, 1, 1},
		{"no terminator here\nsecond line", 5, 2, 1, 1, 5},
		{"Hello. hello! HELLO?", 3, 1, 1, 3, 1},
		{"Wait... what?! Yes.", 3, 1, 1, 3, 3},
		{"  — — ...  ", 0, 1, 1, 0, 0},
		{"Alpha.\n\n\n\nBeta.\n \nGamma.", 3, 7, 3, 3, 3},
		{"J. R. R. Tolkien wrote it. Then e.g. more.", 9, 1, 1, 2, 8},
		{"state-of-the-art don't (really)", 3, 1, 1, 1, 3},
		{"bad \xff utf8", 2, 1, 1, 1, 2},
	}
	for _, tt := range tests {
		s := Analyze(tt.in)
		if s.Words != tt.words || s.Lines != tt.lines || s.Paragraphs != tt.paragraphs || s.Sentences != tt.sentences || s.UniqueWords != tt.u {
			t.Errorf("Analyze(%q) = words %d lines %d paragraphs %d sentences %d unique %d; want %d %d %d %d %d",
				tt.in, s.Words, s.Lines, s.Paragraphs, s.Sentences, s.UniqueWords, tt.words, tt.lines, tt.paragraphs, tt.sentences, tt.u)
		}
	}
}

func TestTopWords(t *testing.T) {
	words := []string{}
	for i, w := range []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"} {
		for range 20 - i {
			words = append(words, w)
		}
	}
	words = append(words, "Zeta", "zeta.", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "the", "x", "x", "x")
	s := Analyze(strings.Join(words, " "))
	var got []string
	for _, w := range s.Top {
		got = append(got, w.Word)
	}
	want := []string{"alpha", "beta", "gamma", "delta", "zeta", "epsilon", "eta", "theta", "iota", "kappa"}
	if !slices.Equal(got, want) {
		t.Fatalf("top %q, want %q", got, want)
	}
	if s.Top[4] != (WordCount{"zeta", 17}) {
		t.Fatalf("zeta counted %+v; case and outer punctuation must not split it", s.Top[5])
	}
}

func TestReadingTime(t *testing.T) {
	tests := []struct {
		words int
		secs  int
		text  string
	}{
		{0, 0, "0 s"}, {1, 1, "1 s"}, {238, 60, "1 min"}, {300, 76, "1 min 16 s"}, {238 * 90, 5400, "1 h 30 min"}, {238 * 60, 3600, "1 h 0 min"},
	}
	for _, tt := range tests {
		s := Stats{Words: tt.words}
		if got := s.ReadingSeconds(); got != tt.secs || readable(got) != tt.text {
			t.Errorf("%d words: %d s %q, want %d s %q", tt.words, got, readable(got), tt.secs, tt.text)
		}
	}
	if got := readable(7199); got != "2 h 0 min" {
		t.Errorf("readable(7199) = %q, want 2 h 0 min", got)
	}
}

func TestRunJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"Hello", "world.", "Hello", "again!"}, strings.NewReader(""), &out, &errOut); code != exitOK {
		t.Fatalf("code %d %q", code, errOut.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"bytes": 25.0, "chars": 25.0, "words": 4.0, "unique_words": 3.0, "lines": 1.0, "paragraphs": 1.0, "sentences": 2.0,
		"avg_word_length": 5.0, "avg_sentence_words": 2.0, "reading_time_seconds": 2.0, "reading_time": "2 s",
		"words_per_minute": 238.0,
		"top_words":        []any{map[string]any{"word": "hello", "count": 2.0}, map[string]any{"word": "world", "count": 1.0}},
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Fatalf("got  %s\nwant %s", gb, wb)
	}
}

func TestRunErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(nil, bytes.NewReader(make([]byte, MaxInput+1)), &out, &errOut)
	var e struct{ Error string }
	if code != exitUsage || json.Unmarshal(out.Bytes(), &e) != nil || !strings.Contains(e.Error, "cap of") {
		t.Fatalf("code %d stdout %q", code, out.String())
	}
}

// FuzzAnalyze checks invariants that hold for any text.
func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{"", "Hello. World!", "a\n\nb", "\xff\xfe", "e.g. J. Doe…", "“q”"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s := Analyze(text)
		switch {
		case s.Bytes != len(text), s.Chars > s.Bytes, s.Words > s.Chars, s.UniqueWords > s.Words,
			s.Sentences > s.Words, (s.Words > 0) != (s.Sentences > 0), s.Paragraphs > s.Lines,
			len(s.Top) > TopWords, s.WordLetters > s.Chars:
			t.Fatalf("inconsistent %+v for %q", s, text)
		}
		if !json.Valid(s.AppendJSON(nil)) {
			t.Fatalf("invalid JSON for %q", text)
		}
	})
}

func BenchmarkAnalyze64KiB(b *testing.B) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. Dr. Smith said so!\n", 1024)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Analyze(text)
	}
}
