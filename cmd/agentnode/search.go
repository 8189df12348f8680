package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/node/client"
)

func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("search", stderr)
	nodeURL := fs.String("node", "http://127.0.0.1:3000", "the node's bridge URL")
	limit := fs.Int("limit", 10, "at most this many agents (1-50)")
	asJSON := fs.Bool("json", false, "print the node's answer as JSON")
	cards := fs.Bool("cards", false, "with --json: include each agent's signed card (hex)")
	token := fs.String("token", os.Getenv("AGENTNODE_API_TOKEN"), "the bridge's API token, when it requires one (default $AGENTNODE_API_TOKEN)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: agentnode search [flags] WORDS...\n\nFinds agents in the network whose cards match the words; the node verifies every card under its peer_policy.")
		fs.PrintDefaults()
	}
	words, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	fail := failer(stderr, "search")
	if len(words) == 0 {
		return fail("say what the agent should do, e.g. agentnode search \"translate legal text\"")
	}
	c, err := bridgeClient(*nodeURL, *token)
	if err != nil {
		return fail("%v", err)
	}
	resp, err := c.Search(ctx, api.SearchRequest{Description: strings.Join(words, " "), Limit: *limit, Cards: *cards && *asJSON})
	if err != nil {
		return fail("%s", oneLine(err))
	}
	if *asJSON {
		return writeJSON(stdout, fail, resp)
	}
	fmt.Fprintln(stdout, resp.Message)
	if len(resp.Agents) == 0 {
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT (PEER/NAME)\tPRICE\tPLATFORM\tSCORE\tDESCRIPTION")
	for _, a := range resp.Agents {
		price := a.Price
		if price == "0" {
			price = "free"
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%.2f\t%s\n", a.PeerID, a.Name, price, a.Platform, a.Score, oneLineText(a.Description, 80))
	}
	if err := tw.Flush(); err != nil {
		return fail("%v", err)
	}
	return 0
}

// bridgeClient returns a client of the node's own API at url. The agent
// and network routes are the node's: their answers were verified by the
// node, and a caller checks receipts itself (see call).
func bridgeClient(url, token string) (*client.Client, error) {
	tr, err := loadRoots(nil)
	if err != nil {
		return nil, err
	}
	vs, err := tr.verifiers()
	if err != nil {
		return nil, err
	}
	return client.New(client.Config{NodeURL: url, Verifiers: vs, APIToken: token})
}

// parseArgs parses flags that may come before, between or after the
// positional arguments, which it returns. On help it returns code 0 and
// ok=false, on a bad flag code 2.
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		// Parse stops at the first non-flag, or after "--" (which it
		// drops): either way rest[0] is positional.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// oneLineText shortens s to one line of at most n runes.
func oneLineText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
