package discovery

import "errors"

// Sentinel errors. Callers match them with errors.Is.
var (
	// ErrConfig is returned by New when the router or verifiers are
	// missing or a limit is not positive.
	ErrConfig = errors.New("invalid searcher config")
	// ErrBadQuery is returned when a query is too long or has no word
	// left after normalization (only stopwords or punctuation).
	ErrBadQuery = errors.New("bad search query")
	// ErrNotFound is returned by Agent when the node advertises no
	// verified card of that name.
	ErrNotFound = errors.New("agent not found")
)
