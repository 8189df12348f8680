package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/agentnet/agentnode/x402/policy"
)

func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: agentnode policy check FILE | agentnode policy eval FILE --requirements JSON|@FILE [--json]")
		return 2
	}
	switch args[0] {
	case "check":
		return runPolicyCheck(ctx, args[1:], stdout, stderr)
	case "eval":
		return runPolicyEval(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "agentnode policy: unknown subcommand %q (check, eval)\n", args[0])
	return 2
}

// runPolicyCheck parses a policy and runs its test_* functions.
func runPolicyCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy check", stderr)
	file, rest, ok := fileArg(args)
	if code, parsed := parseFlags(fs, rest); !parsed || !ok {
		if !ok {
			fmt.Fprintln(stderr, "agentnode policy check: give the policy file")
			return 2
		}
		return code
	}
	r, err := policy.CheckFile(ctx, file)
	if err != nil {
		fmt.Fprintf(stderr, "agentnode policy check: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, r.String())
	if !r.OK() {
		return 1
	}
	return 0
}

// runPolicyEval says what a payer policy would decide for a payment.
func runPolicyEval(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy eval", stderr)
	reqs := fs.String("requirements", "", "the payment: x402 PaymentRequirements JSON, or the whole policy input; @FILE reads a file")
	asJSON := fs.Bool("json", false, "print the decision as JSON")
	file, rest, ok := fileArg(args)
	if code, parsed := parseFlags(fs, rest); !parsed || !ok {
		if !ok {
			fmt.Fprintln(stderr, "agentnode policy eval: give the policy file")
			return 2
		}
		return code
	}
	if *reqs == "" {
		fmt.Fprintln(stderr, "agentnode policy eval: give --requirements JSON")
		return 2
	}
	input := []byte(*reqs)
	if (*reqs)[0] == '@' {
		b, err := os.ReadFile((*reqs)[1:])
		if err != nil {
			fmt.Fprintf(stderr, "agentnode policy eval: %v\n", err)
			return 1
		}
		input = b
	}
	d, err := policy.EvalFile(ctx, file, input)
	if err != nil {
		fmt.Fprintf(stderr, "agentnode policy eval: %v\n", err)
		return 1
	}
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(map[string]any{"allow": d.Allow, "reason": d.Reason, "policy": d.Policy})
		return 0
	}
	verdict := "deny"
	if d.Allow {
		verdict = "allow"
	}
	fmt.Fprintf(stdout, "%s", verdict)
	if d.Reason != "" {
		fmt.Fprintf(stdout, ": %s", d.Reason)
	}
	fmt.Fprintf(stdout, " (%s)\n", d.Policy)
	return 0
}

// fileArg takes the policy file, which comes first: FILE [flags].
func fileArg(args []string) (file string, rest []string, ok bool) {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return "", args, false
	}
	return args[0], args[1:], true
}
