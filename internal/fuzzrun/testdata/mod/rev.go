// Package fuzzmod is a fixture of fuzzrun's tests: one target that passes
// and one that fails on a seed.
package fuzzmod

// Reverse reverses b in place.
func Reverse(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}
