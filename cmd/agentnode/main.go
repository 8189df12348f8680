// Command agentnode runs a node of the agentnet peer-to-peer network for
// private, paid, attested AI agents, and is the client of one.
//
// Each subcommand lives in its own file; this file holds the table.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: run gets the arguments after its name.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"run":     {"run a node from a TOML config", runNode},
		"dev":     {"run a development node (simulated TEE, temporary data, paid on an embedded chain)", runDev},
		"chain":   {"run the embedded development EVM alone (token, funded payer and gas keys)", runChain},
		"testnet": {"run N nodes and the chain on this machine, with the demo agents; --scenario plays the end-to-end story", runTestnet},
		"exec":    {"run a WebAssembly module on a node, encrypted and verified", runExec},
		"search":  {"find agents in the network by what they do", runSearch},
		"deploy":  {"deploy an agent on a node (a name in app_path, or a directory)", runDeploy},
		"call":    {"run an agent of any node through the network, verified", runCall},
		"peers":   {"show a node's place in the p2p network", runPeers},
		"attest":  {"get, verify and measure TEE evidence (quote, verify, measure)", runAttest},
		"receipt": {"check a saved exec receipt offline (verify)", runReceipt},
		"keygen":  {"create an identity key file", runKeygen},
		"policy":  {"check a payment policy (Starlark) or see what it decides", runPolicy},
		"version": {"print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, cmds)
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "agentnode: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: agentnode <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'agentnode <command> -h' for a command's flags.")
}
