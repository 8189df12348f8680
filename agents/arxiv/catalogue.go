package main

import (
	_ "embed"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// catalogueTSV is the bundled catalogue; CATALOGUE.md says where every
// entry comes from.
//
//go:embed catalogue.tsv
var catalogueTSV string

// Caps of the catalogue decoder: the embedded file is trusted, but the
// decoder is also what tests and fuzzers feed, so it bounds everything.
const (
	maxCatalogueBytes = 1 << 20
	maxPapers         = 10000
	maxTitleBytes     = 400
	maxSentenceBytes  = 1200
	maxAuthorBytes    = 2000
)

// etAl marks an author list the source truncated; it may only come last.
const etAl = "et al."

// errBadCatalogue is returned when the catalogue text breaks a rule of
// its format.
var errBadCatalogue = errors.New("bad catalogue")

// Paper is one catalogue entry.
type Paper struct {
	ID       string   // arXiv identifier without version, like 1706.03762 or hep-th/9711200
	Year     int      // year of the first version
	Title    string   // title as arXiv lists it
	Authors  []string // in order; the last may be "et al."
	Sentence string   // the abstract's first sentence
	Source   string   // provenance tag, explained in CATALOGUE.md
}

// URL is the paper's arXiv abstract page.
func (p *Paper) URL() string { return "https://arxiv.org/abs/" + p.ID }

// parseCatalogue decodes the catalogue format: one paper a line, six
// tab-separated fields (id, year, title, authors joined by "; ", first
// sentence, source tag); empty lines and lines starting with # are
// skipped. Any malformed line fails the whole catalogue with its line
// number: the agent must not answer from half a catalogue.
func parseCatalogue(text string) ([]Paper, error) {
	if len(text) > maxCatalogueBytes {
		return nil, catalogueError(0, "catalogue of "+strconv.Itoa(len(text))+" bytes is over the cap of "+strconv.Itoa(maxCatalogueBytes))
	}
	if !utf8.ValidString(text) {
		return nil, catalogueError(0, "catalogue is not valid UTF-8")
	}
	var papers []Paper
	seen := map[string]bool{}
	for n, line := range strings.Split(text, "\n") {
		lineNo := n + 1
		line = strings.TrimSuffix(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if len(papers) == maxPapers {
			return nil, catalogueError(lineNo, "more than "+strconv.Itoa(maxPapers)+" papers")
		}
		p, err := parseLine(line)
		if err != nil {
			return nil, catalogueError(lineNo, err.Error())
		}
		if seen[p.ID] {
			return nil, catalogueError(lineNo, "paper "+p.ID+" listed twice")
		}
		seen[p.ID] = true
		papers = append(papers, p)
	}
	if len(papers) == 0 {
		return nil, catalogueError(0, "no papers")
	}
	return papers, nil
}

func parseLine(line string) (Paper, error) {
	f := strings.Split(line, "\t")
	if len(f) != 6 {
		return Paper{}, errors.New(strconv.Itoa(len(f)) + " fields, want 6")
	}
	p := Paper{ID: f[0], Title: f[2], Sentence: f[4], Source: f[5]}
	idYear, ok := idYear(p.ID)
	if !ok {
		return Paper{}, errors.New("malformed arXiv id " + strconv.Quote(p.ID))
	}
	year, err := strconv.Atoi(f[1])
	if err != nil {
		return Paper{}, errors.New("malformed year " + strconv.Quote(f[1]))
	}
	// A paper submitted on the last days of a year may carry the next
	// year's January identifier.
	if year != idYear && !(year == idYear-1 && januaryID(p.ID)) {
		return Paper{}, errors.New("year " + f[1] + " does not match id " + p.ID)
	}
	p.Year = year
	switch {
	case !cleanText(p.Title, maxTitleBytes):
		return Paper{}, errors.New("title: want 1-" + strconv.Itoa(maxTitleBytes) + " bytes of printable text without outer spaces")
	case !cleanText(p.Sentence, maxSentenceBytes):
		return Paper{}, errors.New("first sentence: want 1-" + strconv.Itoa(maxSentenceBytes) + " bytes of printable text without outer spaces")
	case !strings.ContainsAny(p.Sentence[len(p.Sentence)-1:], ".?!"):
		return Paper{}, errors.New("first sentence does not end with a full stop, question mark or exclamation mark")
	case len(f[3]) > maxAuthorBytes:
		return Paper{}, errors.New("authors: over " + strconv.Itoa(maxAuthorBytes) + " bytes")
	case !validTag(p.Source):
		return Paper{}, errors.New("source tag " + strconv.Quote(p.Source) + ": want 1-32 of a-z 0-9 -")
	}
	p.Authors = strings.Split(f[3], "; ")
	for i, a := range p.Authors {
		switch {
		case !cleanText(a, maxAuthorBytes) || strings.Contains(a, ";"):
			return Paper{}, errors.New("author " + strconv.Itoa(i+1) + ": want a name, authors are separated by \"; \"")
		case a == etAl && i != len(p.Authors)-1:
			return Paper{}, errors.New(`"et al." must be the last author`)
		case a == etAl && i == 0:
			return Paper{}, errors.New(`"et al." needs at least one named author before it`)
		}
	}
	return p, nil
}

// idYear returns the year an arXiv identifier was assigned: YYMM.NNNNN
// (since April 2007) or archive/YYMMNNN (before).
func idYear(id string) (int, bool) {
	if slash := strings.IndexByte(id, '/'); slash >= 0 {
		archive, num := id[:slash], id[slash+1:]
		if archive == "" || len(num) != 7 || !allDigits(num) || !validArchive(archive) {
			return 0, false
		}
		yy, _ := strconv.Atoi(num[:2])
		mm, _ := strconv.Atoi(num[2:4])
		if mm < 1 || mm > 12 {
			return 0, false
		}
		if yy >= 91 {
			return 1900 + yy, true
		}
		if yy > 7 {
			return 0, false
		}
		return 2000 + yy, true
	}
	dot := strings.IndexByte(id, '.')
	if dot != 4 || !allDigits(id[:4]) || !allDigits(id[5:]) {
		return 0, false
	}
	yy, _ := strconv.Atoi(id[:2])
	mm, _ := strconv.Atoi(id[2:4])
	switch {
	case mm < 1 || mm > 12, yy < 7, yy == 7 && mm < 4:
		return 0, false
	case yy >= 15 && len(id)-5 != 5, yy < 15 && len(id)-5 != 4:
		return 0, false
	}
	return 2000 + yy, true
}

// januaryID reports whether a new-style identifier was assigned in January.
func januaryID(id string) bool { return len(id) > 4 && id[2:4] == "01" && id[4] == '.' }

func validArchive(a string) bool {
	name, sub, hasSub := strings.Cut(a, ".")
	if name == "" || (hasSub && (len(sub) != 2 || strings.ToUpper(sub) != sub)) {
		return false
	}
	for _, c := range name {
		if (c < 'a' || c > 'z') && c != '-' {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// cleanText reports whether s is 1-max bytes with no control characters
// and no leading or trailing space.
func cleanText(s string, max int) bool {
	if s == "" || len(s) > max || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}

func validTag(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// lineError is a catalogue error with its line number (0: the whole text).
type lineError struct {
	line int
	msg  string
}

func catalogueError(line int, msg string) error { return &lineError{line: line, msg: msg} }

func (e *lineError) Error() string {
	if e.line == 0 {
		return "parse catalogue: " + e.msg + ": " + errBadCatalogue.Error()
	}
	return "parse catalogue: line " + strconv.Itoa(e.line) + ": " + e.msg + ": " + errBadCatalogue.Error()
}

func (e *lineError) Unwrap() error { return errBadCatalogue }
