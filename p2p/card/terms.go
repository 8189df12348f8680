package card

import (
	"crypto/sha256"
	"strings"
	"unicode"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/agentnet/agentnode/p2p/stem"
)

// The search index. For every term of a card the publisher provides
// TermCID(term); a searcher normalizes its query with the same [Normalize]
// and looks the terms up. Publisher and searcher must agree byte for byte,
// so changing Normalize is a protocol change (bump termPrefix).

// termPrefix domain-separates term keys from any other use of the DHT.
const termPrefix = "agentnet/v1/term/"

// MaxTerms caps the terms one card contributes to the index: each one is
// a provider record to keep alive.
const MaxTerms = 32

// maxTokenLen drops tokens that are no words (hashes, base64).
const maxTokenLen = 40

// TermCID returns CIDv1(raw, sha256("agentnet/v1/term/" + term)), the
// provider key of an index term.
func TermCID(term string) cid.Cid {
	sum := sha256.Sum256([]byte(termPrefix + term))
	// A multihash is <code varint><length varint><digest>; sha2-256 is
	// 0x12 and its 32-byte length 0x20, both one-byte varints.
	h := make(mh.Multihash, 0, 2+len(sum))
	h = append(append(h, mh.SHA2_256, byte(len(sum))), sum[:]...)
	return cid.NewCidV1(cid.Raw, h)
}

// Normalize turns text into index terms, in order and with repeats (BM25
// counts them): lowercase, split at anything that is not a letter or digit,
// drop stopwords and one-character tokens, then stem lightly.
func Normalize(text string) []string {
	fields := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := fields[:0]
	for _, f := range fields {
		if len(f) < 2 || len(f) > maxTokenLen || stopwords[f] {
			continue
		}
		if t := stem.Word(f); len(t) >= 2 {
			out = append(out, t)
		}
	}
	return out
}

// Terms returns the distinct index terms of a card: name first, then tags,
// then description, at most MaxTerms.
func Terms(c *Card) []string {
	seen := map[string]bool{}
	var out []string
	add := func(text string) {
		for _, t := range Normalize(text) {
			if len(out) == MaxTerms {
				return
			}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	add(c.Name)
	for _, tag := range c.Tags {
		add(tag)
	}
	add(c.Description)
	return out
}

// stopwords are dropped from text and queries: they would match every card.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again against all am an and any are as at be
		because been before being below between both but by can could did do does doing down during each
		few for from further had has have having he her here hers herself him himself his how i if in into
		is it its itself just me more most my myself no nor not now of off on once only or other our ours
		ourselves out over own same she should so some such than that the their theirs them themselves then
		there these they this those through to too under until up very was we were what when where which
		while who whom why will with would you your yours yourself yourselves please want need needs find
		looking something thing things`) {
		m[w] = true
	}
	return m
}()
