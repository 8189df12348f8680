package discovery

import (
	"math"
	"slices"
	"strings"

	"github.com/agentnet/agentnode/p2p/card"
)

// BM25F parameters: the usual k1 and b, and field weights that make a
// term in the name count three times one in the description.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

var fieldWeights = [numFields]float64{3, 2, 1}

const (
	fieldName = iota
	fieldTags
	fieldDescription
	numFields
)

type doc struct {
	card *card.Verified
	tf   [numFields]map[string]int
	len  [numFields]int
}

func newDoc(c *card.Verified) doc {
	d := doc{card: c}
	texts := [numFields]string{c.Name, strings.Join(c.Tags, " "), c.Description}
	for f, text := range texts {
		d.tf[f] = map[string]int{}
		for _, t := range card.Normalize(text) {
			d.tf[f][t]++
			d.len[f]++
		}
	}
	return d
}

// rank scores cards against the query terms with BM25F over name, tags
// and description, statistics taken over the candidates themselves, and
// returns those that match, best first; ties go by peer id, then name.
func rank(terms []string, cards []*card.Verified) []Result {
	if len(cards) == 0 {
		return nil
	}
	docs := make([]doc, len(cards))
	var avg [numFields]float64
	for i, c := range cards {
		docs[i] = newDoc(c)
		for f := range numFields {
			avg[f] += float64(docs[i].len[f])
		}
	}
	for f := range numFields {
		avg[f] /= float64(len(docs))
	}
	n := float64(len(docs))
	idf := make(map[string]float64, len(terms))
	for _, t := range terms {
		df := 0
		for _, d := range docs {
			if d.tf[fieldName][t]+d.tf[fieldTags][t]+d.tf[fieldDescription][t] > 0 {
				df++
			}
		}
		idf[t] = math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
	}
	var out []Result
	for _, d := range docs {
		score := 0.0
		for _, t := range terms {
			tf := 0.0
			for f := range numFields {
				if c := d.tf[f][t]; c > 0 && avg[f] > 0 {
					tf += fieldWeights[f] * float64(c) / (1 - bm25B + bm25B*float64(d.len[f])/avg[f])
				}
			}
			if tf > 0 {
				score += idf[t] * tf / (bm25K1 + tf)
			}
		}
		if score > 0 {
			out = append(out, resultOf(d.card, score))
		}
	}
	slices.SortFunc(out, func(a, b Result) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		case a.PeerID != b.PeerID:
			return cmpPeer(a.PeerID, b.PeerID)
		}
		return strings.Compare(a.Agent, b.Agent)
	})
	return out
}
