package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/node/client"
)

func runExec(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("exec", stderr)
	nodeURL := fs.String("node", "http://127.0.0.1:3000", "the node's bridge URL")
	wasmPath := fs.String("wasm", "", "WebAssembly module (WASI command) to run")
	agent := fs.String("agent", "", "name of an agent deployed on the node, instead of --wasm")
	scriptPath := fs.String("script", "", "Starlark script whose main(args) runs on the node's policy route, instead of --wasm")
	stdinPath := fs.String("stdin", "", "file whose content is the module's stdin")
	suite := fs.String("suite", "x25519", "HPKE suite: x25519 or mlkem768x25519")
	asJSON := fs.Bool("json", false, "print a verifiable receipt as JSON instead of the output")
	token := fs.String("token", os.Getenv("AGENTNODE_API_TOKEN"), "the bridge's API token, when it requires one (default $AGENTNODE_API_TOKEN)")
	attestResult := fs.Bool("attest-result", false, "ask for fresh evidence over the result's commitment")
	trust := addTrustFlags(fs, "a node")
	var argv multiFlag
	fs.Var(&argv, "arg", "an argument for the module (repeatable)")
	var pay payerFlags
	fs.StringVar(&pay.key, "pay-key", "", "hex secp256k1 key that pays nodes asking for x402 payment")
	fs.StringVar(&pay.keyFile, "pay-key-file", "", "file holding the payment key in hex, or a dev node's dev.json")
	fs.StringVar(&pay.maxPrice, "max-price", "", "the most one execution may cost, in the token's atomic units (required to pay)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "agentnode exec: "+format+"\n", a...)
		return 1
	}
	in := client.ExecInput{Agent: *agent, Args: argv, AttestResult: *attestResult}
	if n := countSet(*wasmPath, *agent, *scriptPath); n != 1 {
		return fail("give one of --wasm FILE, --agent NAME or --script FILE")
	}
	if *scriptPath != "" {
		b, err := os.ReadFile(*scriptPath)
		if err != nil {
			return fail("%v", err)
		}
		in.Script = string(b)
	}
	var err error
	if *wasmPath != "" {
		if in.Wasm, err = os.ReadFile(*wasmPath); err != nil {
			return fail("%v", err)
		}
	}
	if *stdinPath != "" {
		if in.Stdin, err = os.ReadFile(*stdinPath); err != nil {
			return fail("%v", err)
		}
	}
	policy, vs, err := trust.load()
	if err != nil {
		return fail("%v", err)
	}
	payer, err := pay.payer()
	if err != nil {
		return fail("%v", err)
	}
	c, err := client.New(client.Config{NodeURL: *nodeURL, Policy: policy, Verifiers: vs, Suite: seal.Suite(*suite), APIToken: *token, Payer: payer})
	if err != nil {
		return fail("%v", err)
	}
	res, err := c.Exec(ctx, in)
	if err != nil {
		return fail("%s", oneLine(err))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res.Receipt(in, policy)); err != nil {
			return fail("%v", err)
		}
	} else {
		if !policy.Pinned(res.Session.Platform) {
			fmt.Fprintf(stderr, "agentnode exec: measurement: unpinned (genuine %s evidence, but no policy pins which code runs; see docs/policy.md)\n", res.Session.Platform)
		}
		if p := res.Payment; p != nil {
			fmt.Fprintf(stderr, "agentnode exec: paid %s on %s from %s, settled in transaction %s\n", p.Amount, p.Network, p.Payer, p.Transaction)
		}
		if _, err := stdout.Write(res.Output); err != nil {
			return fail("%v", err)
		}
	}
	if res.ExitCode != 0 {
		fmt.Fprintf(stderr, "agentnode exec: module exited with status %d\n", res.ExitCode)
		if res.ExitCode > 125 {
			return 1
		}
		return int(res.ExitCode)
	}
	return 0
}

// oneLine renders an error as one line a user can act on: the node's error
// message when it answered with one.
func oneLine(err error) string {
	var apiErr *client.APIError
	var payErr *client.PaymentError
	switch {
	case errors.Is(err, client.ErrNoPayer) && errors.As(err, &payErr):
		return strings.Replace(payErr.Error(), client.ErrNoPayer.Error(), "pay with --pay-key-file FILE (or --pay-key HEX) and --max-price AMOUNT", 1)
	case errors.As(err, &payErr):
		return strings.ReplaceAll(payErr.Error(), "\n", " ")
	}
	if errors.As(err, &apiErr) {
		return apiErr.Code + ": " + strings.ReplaceAll(apiErr.Message, "\n", " ")
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}
