package stem

import "testing"

func TestWord(t *testing.T) {
	for _, group := range [][]string{
		{"translates", "translated", "translating"},
		{"transformers", "transformer"},
		{"running", "runs", "run"},
		{"studies", "study"},
		{"boxes", "box"},
		{"surprisingly", "surprising"},
	} {
		want := Word(group[0])
		for _, w := range group[1:] {
			if got := Word(w); got != want {
				t.Errorf("Word(%q) = %q, Word(%q) = %q: want one stem", w, got, group[0], want)
			}
		}
	}
	// Words with other letters pass through; -ss, -us and -is are not plurals.
	for w, want := range map[string]string{"naïves": "naïves", "gpt4s": "gpt4s", "class": "class", "analysis": "analysis",
		"corpus": "corpus", "calls": "call"} {
		if got := Word(w); got != want {
			t.Errorf("Word(%q) = %q, want %q", w, got, want)
		}
	}
}
