// Command arxiv is a demo agent: it answers a query from a bundled
// catalogue of real arXiv papers (id, title, authors, year and the first
// sentence of the abstract), ranked by relevance with BM25F over the
// title, the authors and that sentence.
//
// It is a WASI preview 1 command for the agentnode executor. The query is
// the arguments joined by spaces, or stdin when there are none:
//
//	agent [--json] [--limit N] [--] query words...
//
// The answer is readable text lines on stdout, or with --json one JSON
// object: {"query", "terms", "total", "catalogue", "results": [{"rank",
// "id", "title", "authors", "year", "first_sentence", "url", "score"}]}.
// A bad request (unknown flag, empty query, a query with no searchable
// word, stdin and arguments both) exits with status 2 and says why on
// stderr (and on stdout as {"error": ...} with --json). CATALOGUE.md
// lists where every entry of the catalogue comes from.
package main

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/agentnet/agentnode/agents/internal/input"
	"github.com/agentnet/agentnode/agents/internal/jsonenc"
)

// Result counts: the default and the most a query may ask for.
const (
	defaultLimit = 5
	maxLimit     = 50
)

// Exit statuses.
const (
	exitOK     = 0
	exitUsage  = 2
	exitBroken = 3
)

const usage = `usage: agent [--json] [--limit N] [--] query words...
Searches a bundled catalogue of real arXiv papers; the query is the
arguments joined by spaces, or stdin when there are none.
  --json      answer with one JSON object instead of text lines
  --limit N   at most N results (1-50, default 5)
`

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// request is a parsed command line.
type request struct {
	json  bool
	limit int
	words []string
	help  bool
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	req, err := parseArgs(args)
	if err != nil {
		return fail(stdout, stderr, req.json, err)
	}
	if req.help {
		_, _ = io.WriteString(stdout, usage)
		return exitOK
	}
	q, err := input.Read(req.words, stdin, maxQueryBytes)
	if err != nil {
		return fail(stdout, stderr, req.json, err)
	}
	query := strings.TrimSpace(string(q))
	if query == "" {
		return fail(stdout, stderr, req.json, errors.New("empty query: give words to search for, like: papers about attention"))
	}
	terms := QueryTerms(query)
	if len(terms) == 0 {
		return fail(stdout, stderr, req.json, errors.New("query "+strconv.Quote(query)+" has no searchable words"))
	}
	papers, err := parseCatalogue(catalogueTSV)
	if err != nil {
		_, _ = io.WriteString(stderr, "arxiv: "+err.Error()+"\n")
		return exitBroken
	}
	results := NewIndex(papers).Search(terms)
	total := len(results)
	if len(results) > req.limit {
		results = results[:req.limit]
	}
	var out []byte
	if req.json {
		out = appendJSON(nil, query, terms, total, len(papers), results)
	} else {
		out = appendText(nil, query, total, len(papers), results)
	}
	if _, err := stdout.Write(out); err != nil {
		_, _ = io.WriteString(stderr, "arxiv: write answer: "+err.Error()+"\n")
		return exitBroken
	}
	return exitOK
}

// parseArgs splits flags from query words. Flags may come anywhere before
// "--"; everything after it is query text.
func parseArgs(args []string) (request, error) {
	req := request{limit: defaultLimit}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			req.words = append(req.words, args[i+1:]...)
			return req, nil
		case a == "--json":
			req.json = true
		case a == "--help" || a == "-h":
			req.help = true
		case a == "--limit" || strings.HasPrefix(a, "--limit="):
			v, ok := strings.CutPrefix(a, "--limit=")
			if !ok {
				if i+1 == len(args) {
					return req, errors.New("--limit needs a number")
				}
				i++
				v = args[i]
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxLimit {
				return req, errors.New("--limit " + strconv.Quote(v) + ": want a number from 1 to " + strconv.Itoa(maxLimit))
			}
			req.limit = n
		case strings.HasPrefix(a, "--"):
			return req, errors.New("unknown flag " + strconv.Quote(a) + "; put -- before query words that start with --")
		default:
			req.words = append(req.words, a)
		}
	}
	return req, nil
}

// fail reports a bad request: on stderr, and as {"error": ...} on stdout
// in JSON mode so that a caller reading only stdout learns why.
func fail(stdout, stderr io.Writer, asJSON bool, err error) int {
	msg := err.Error()
	_, _ = io.WriteString(stderr, "arxiv: "+msg+"\n"+usage)
	if asJSON {
		b := jsonenc.Key([]byte{'{'}, "error", true)
		b = jsonenc.String(b, msg)
		_, _ = stdout.Write(append(b, '}', '\n'))
	}
	return exitUsage
}

// appendText renders results as numbered, readable lines.
func appendText(b []byte, query string, total, size int, results []Result) []byte {
	quoted := strconv.Quote(query)
	if total == 0 {
		b = append(b, "No paper in the catalogue of "...)
		b = strconv.AppendInt(b, int64(size), 10)
		return append(append(append(b, " matches "...), quoted...), '\n')
	}
	b = strconv.AppendInt(b, int64(len(results)), 10)
	b = append(b, " of "...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, " matching papers (catalogue of "...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, ") for "...)
	b = append(b, quoted...)
	b = append(b, '\n')
	for i, r := range results {
		p := r.Paper
		b = append(b, '\n')
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, ". "...)
		b = append(b, p.Title...)
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(p.Year), 10)
		b = append(b, ")\n   "...)
		b = append(b, shortAuthors(p.Authors)...)
		b = append(b, "\n   "...)
		b = append(b, p.Sentence...)
		b = append(b, "\n   arXiv:"...)
		b = append(b, p.ID...)
		b = append(b, "  "...)
		b = append(b, p.URL()...)
		b = append(b, '\n')
	}
	return b
}

// shortAuthors lists up to six authors, then "et al.".
func shortAuthors(authors []string) string {
	const show = 6
	if len(authors) <= show {
		return strings.Join(authors, ", ")
	}
	return strings.Join(authors[:show-1], ", ") + ", " + etAl
}

// appendJSON renders the answer as one JSON object and a newline.
func appendJSON(b []byte, query string, terms []string, total, size int, results []Result) []byte {
	b = jsonenc.Key(append(b, '{'), "query", true)
	b = jsonenc.String(b, query)
	b = jsonenc.Key(b, "terms", false)
	b = jsonenc.Strings(b, terms)
	b = jsonenc.Key(b, "total", false)
	b = jsonenc.Int(b, int64(total))
	b = jsonenc.Key(b, "catalogue", false)
	b = jsonenc.Int(b, int64(size))
	b = jsonenc.Key(b, "results", false)
	b = append(b, '[')
	for i, r := range results {
		p := r.Paper
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.Key(append(b, '{'), "rank", true)
		b = jsonenc.Int(b, int64(i+1))
		b = jsonenc.Key(b, "id", false)
		b = jsonenc.String(b, p.ID)
		b = jsonenc.Key(b, "title", false)
		b = jsonenc.String(b, p.Title)
		b = jsonenc.Key(b, "authors", false)
		b = jsonenc.Strings(b, p.Authors)
		b = jsonenc.Key(b, "year", false)
		b = jsonenc.Int(b, int64(p.Year))
		b = jsonenc.Key(b, "first_sentence", false)
		b = jsonenc.String(b, p.Sentence)
		b = jsonenc.Key(b, "url", false)
		b = jsonenc.String(b, p.URL())
		b = jsonenc.Key(b, "score", false)
		b = jsonenc.Float(b, r.Score, 4)
		b = append(b, '}')
	}
	return append(b, ']', '}', '\n')
}
