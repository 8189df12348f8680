package card_test

import (
	"fmt"

	"github.com/agentnet/agentnode/p2p/card"
)

// The publisher indexes a card under its terms and a searcher looks the
// same terms up: both sides normalize with the same function.
func ExampleNormalize() {
	fmt.Println(card.Normalize("Translates English text into French!"))
	fmt.Println(card.Normalize("translating english texts"))
	// Output:
	// [translat english text french]
	// [translat english text]
}

// The term key is CIDv1(raw, sha256("agentnet/v1/term/" + term)); the
// value below was computed independently of this package.
func ExampleTerms() {
	c := &card.Card{Name: "summarize-news", Tags: []string{"summary"}, Description: "Summarizes long news articles"}
	fmt.Println(card.Terms(c))
	fmt.Println(card.TermCID("summary"))
	// Output:
	// [summariz new summary long articl]
	// bafkreifuz2srfxgcir4lb2el2mnc4nebxtb7defailrnmoegpxeqlv4d64
}
