package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/node/client"
)

const receiptUsage = `usage: agentnode receipt verify FILE [flags]

  verify   check a receipt saved with 'agentnode exec --json', offline

Run 'agentnode receipt verify -h' for its flags.
`

// maxReceiptSize caps a receipt file. A receipt carries a result's output
// twice (as text and as base64) and the client accepts responses of up to
// 64 MiB.
const maxReceiptSize = 192 << 20

func runReceipt(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, receiptUsage)
		return 2
	}
	switch args[0] {
	case "verify":
		return receiptVerify(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, receiptUsage)
		return 0
	}
	fmt.Fprintf(stderr, "agentnode receipt: unknown subcommand %q\n%s", args[0], receiptUsage)
	return 2
}

func receiptVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("receipt verify", stderr)
	trust := addTrustFlags(fs, "a receipt")
	asJSON := fs.Bool("json", false, "print what was verified as JSON")
	rpcURL := fs.String("rpc", "", "JSON-RPC URL of the payment's chain: also check the settlement transaction there (status, AuthorizationUsed and Transfer)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: agentnode receipt verify FILE [flags]")
		fs.PrintDefaults()
	}
	// FILE may come before or after the flags.
	if err := fs.Parse(args); err != nil {
		return flagErrCode(err)
	}
	path := fs.Arg(0)
	if fs.NArg() > 0 {
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return flagErrCode(err)
		}
	}
	if path == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	fail := failer(stderr, "receipt verify")
	b, err := readCapped(path, maxReceiptSize)
	if err != nil {
		return fail("%v", err)
	}
	rc, err := decodeReceipt(b)
	if err != nil {
		return fail("%s: %v", path, err)
	}
	policy, vs, err := trust.load()
	if err != nil {
		return fail("%v", err)
	}
	claims, err := client.VerifyReceipt(ctx, rc, vs, policy)
	if err != nil {
		return fail("%v", err)
	}
	if err := checkReceiptCopies(rc, claims); err != nil {
		return fail("%v", err)
	}
	var settled *client.Settlement
	if *rpcURL != "" && rc.Payment != nil {
		if settled, err = checkSettlement(ctx, *rpcURL, rc); err != nil {
			return fail("%v", err)
		}
	}
	if !policy.Pinned(claims.Platform) {
		claims.Notes = append(claims.Notes, "measurement: unpinned")
	}
	if *asJSON {
		return writeJSON(stdout, fail, receiptView(rc, claims, settled))
	}
	printReceipt(stdout, rc, claims, settled)
	return 0
}

// flagErrCode is the exit status of a flag parsing error: 0 for -h.
func flagErrCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// decodeReceipt decodes a receipt strictly: a field this version does not
// know is an error, since it would be shown to nobody and checked by
// nothing.
func decodeReceipt(b []byte) (*client.Receipt, error) {
	if len(b) > maxReceiptSize {
		return nil, fmt.Errorf("decode receipt: %d bytes, over %d", len(b), maxReceiptSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var rc client.Receipt
	if err := dec.Decode(&rc); err != nil {
		return nil, fmt.Errorf("decode receipt: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode receipt: data after the receipt")
	}
	return &rc, nil
}

// checkReceiptCopies checks the receipt's convenience copies against what
// was verified, so that no field a reader looks at says something the
// verified ones do not: the text output must be the committed output, and
// the claims the client recorded must be the ones the evidence makes.
func checkReceiptCopies(rc *client.Receipt, verified *attest.Claims) error {
	if rc.Output != string(rc.OutputBase64) && !(rc.Output == "" && !utf8.Valid(rc.OutputBase64)) {
		return errors.New("verify receipt: field output differs from the committed output_base64")
	}
	if c := rc.Claims; c != nil {
		same := c.Platform == verified.Platform && c.Debug == verified.Debug && c.TCB == verified.TCB &&
			maps.EqualFunc(c.Measurements, verified.Measurements, func(a, b attest.HexBytes) bool { return bytes.Equal(a, b) })
		if !same {
			return errors.New("verify receipt: field claims differs from what the session evidence proves")
		}
	}
	return nil
}

func printReceipt(w io.Writer, rc *client.Receipt, c *attest.Claims, s *client.Settlement) {
	fmt.Fprintln(w, "receipt verified")
	fmt.Fprintf(w, "signature:    the identity key of peer %s signed the commitment %s\n", rc.PeerID, rc.Commitment)
	what := fmt.Sprintf("module sha256 %s", rc.ModuleSHA256)
	if rc.Agent != "" {
		what = fmt.Sprintf("agent %q, %s", rc.Agent, what)
	}
	fmt.Fprintf(w, "commitment:   opened with the receipt's salt: %s, %d args, %d bytes of stdin, %d bytes of output, exit code %d, fuel %d\n",
		what, len(rc.Args), len(rc.Stdin), len(rc.OutputBase64), rc.ExitCode, rc.Fuel)
	fmt.Fprintf(w, "session:      %s evidence bound to the identity key, session key %.16s…, client key and nonce\n", c.Platform, rc.Session.SessionPubkey)
	if rc.ResultQuote != "" {
		fmt.Fprintf(w, "result:       fresh %s evidence bound to the commitment\n", c.Platform)
	} else {
		fmt.Fprintln(w, "result:       no per-result evidence (not asked for)")
	}
	switch p := rc.Payment; {
	case p != nil && s != nil:
		fmt.Fprintf(w, "payment:      %s from %s, nonce %s, bound by the commitment\n", p.Network, p.Payer, p.Nonce)
		fmt.Fprintf(w, "settlement:   checked on chain: transaction %s (block %d) moved %s of token %s from %s to %s\n",
			s.Transaction, s.Block, s.Amount, s.Token, s.Payer, s.PayTo)
	case p != nil:
		fmt.Fprintf(w, "payment:      %s from %s, nonce %s, bound by the commitment; settlement not checked (--rpc checks it)\n", p.Network, p.Payer, p.Nonce)
	default:
		fmt.Fprintln(w, "payment:      none")
	}
	if rc.Stderr != "" {
		fmt.Fprintln(w, "stderr:       present but not covered by the commitment")
	}
	printClaims(w, c)
}

// receiptResult is the JSON form of a verified receipt.
type receiptResult struct {
	Verified       bool       `json:"verified"`
	PeerID         string     `json:"peer_id"`
	Commitment     string     `json:"commitment"`
	ModuleSHA256   string     `json:"module_sha256"`
	Agent          string     `json:"agent,omitempty"`
	ExitCode       uint32     `json:"exit_code"`
	OutputBytes    int        `json:"output_bytes"`
	ResultEvidence bool       `json:"result_evidence"`
	Payment        bool       `json:"payment"`
	Claims         claimsView `json:"claims"`
	// Unchecked names what the receipt holds but nothing verified.
	Unchecked []string `json:"unchecked"`

	// Settlement is the payment as the chain records it, when --rpc
	// checked it.
	Settlement *client.Settlement `json:"settlement,omitempty"`
}

func receiptView(rc *client.Receipt, c *attest.Claims, s *client.Settlement) receiptResult {
	r := receiptResult{
		Verified: true, PeerID: rc.PeerID, Commitment: rc.Commitment, ModuleSHA256: rc.ModuleSHA256, Agent: rc.Agent,
		ExitCode: rc.ExitCode, OutputBytes: len(rc.OutputBase64), ResultEvidence: rc.ResultQuote != "", Payment: rc.Payment != nil,
		Claims: claimsJSON(c), Unchecked: []string{},
	}
	r.Settlement = s
	if rc.Payment != nil && s == nil {
		r.Unchecked = append(r.Unchecked, "payment settlement")
	}
	if rc.Stderr != "" {
		r.Unchecked = append(r.Unchecked, "stderr")
	}
	slices.Sort(r.Unchecked)
	return r
}
