package card

import (
	"slices"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := map[string]string{
		"Translates English text into French!":    "translat english text french",
		"translating, translated; TRANSLATION":    "translat translat translation",
		"The agent that summarizes long articles": "agent summariz long articl",
		"Running runners":                         "run runner",
		"classes, boxes & churches":               "class box church",
		"a I of to":                               "",
		"echo-agent v2":                           "echo agent v2",
		"données météo":                           "données météo",
		"policies agencies":                       "policy agency",
	}
	for in, want := range cases {
		if got := strings.Join(Normalize(in), " "); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTerms(t *testing.T) {
	c := &Card{Name: "translate-fr", Tags: []string{"Translation", "french"}, Description: "Translates English text into French."}
	got := Terms(c)
	want := []string{"translat", "fr", "translation", "french", "english", "text"}
	if !slices.Equal(got, want) {
		t.Fatalf("Terms = %v, want %v", got, want)
	}
	long := &Card{Name: "x1", Description: strings.Repeat("word ", 10)}
	for i := range 100 {
		long.Description += " w" + strings.Repeat("z", i%30) + string(rune('a'+i%26))
	}
	if n := len(Terms(long)); n != MaxTerms {
		t.Fatalf("%d terms, cap %d", n, MaxTerms)
	}
}

func TestTermCID(t *testing.T) {
	a, b := TermCID("french"), TermCID("french")
	if !a.Equals(b) || a.Equals(TermCID("english")) {
		t.Fatal("term cids not deterministic and distinct")
	}
	if a.Version() != 1 || a.Type() != 0x55 || a.Prefix().MhType != 0x12 {
		t.Fatalf("cid %s is not CIDv1 raw sha2-256", a)
	}
}
