package enclave

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/enclave/wasm"
)

// Job is a decrypted, validated request waiting to run. It holds the
// plaintext inputs, so it never leaves the enclave's callers' hands.
type Job struct {
	session *session
	request ID
	kind    Kind
	payload ExecPayload
	module  *wasm.Module // nil for a script
}

// Kind returns what the job runs.
func (j *Job) Kind() Kind { return j.kind }

// SessionID returns the job's session.
func (j *Job) SessionID() ID { return j.session.id }

// RequestID returns the job's request id.
func (j *Job) RequestID() ID { return j.request }

// ModuleHash returns the SHA-256 of the module (or script) the job runs.
func (j *Job) ModuleHash() [32]byte {
	if j.kind == KindScript {
		return sha256.Sum256([]byte(j.payload.Script))
	}
	return j.module.Hash()
}

// Agent returns the name of the deployed agent the job runs, or "" when
// the request carried its own module.
func (j *Job) Agent() string { return j.payload.Agent }

// InputSize is the size of the job's arguments and stdin, for pricing.
func (j *Job) InputSize() int {
	n := len(j.payload.Stdin)
	for _, a := range j.payload.Args {
		n += len(a)
	}
	return n
}

// OpenRequest decrypts a sealed request of a session, checks it has not run
// yet, decodes it and compiles (or resolves) its module. It changes no
// state: a request that fails here, or is never run, can be sent again.
func (e *Enclave) OpenRequest(ctx context.Context, sessionID, requestID ID, sealed []byte) (*Job, error) {
	s, err := e.sessions.get(sessionID)
	if err != nil {
		return nil, err
	}
	if s.seen(requestID) {
		return nil, fmt.Errorf("request %s: %w", requestID, ErrReplay)
	}
	pt, err := seal.Open(s.key, []byte(InfoExec), MessageAAD(sessionID, requestID), sealed)
	if err != nil {
		return nil, fmt.Errorf("open request %s: %w", requestID, ErrDecrypt)
	}
	var p ExecPayload
	if err := decodeStrict(pt, &p); err != nil {
		return nil, fmt.Errorf("decode request %s: %w: %v", requestID, ErrBadRequest, err)
	}
	kind, err := p.validate()
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", requestID, err)
	}
	j := &Job{session: s, request: requestID, kind: kind, payload: p}
	if kind == KindScript {
		if len(p.Stdin) > 0 {
			return nil, fmt.Errorf("request %s: %w: a script takes arguments, not stdin", requestID, ErrBadRequest)
		}
		return j, nil
	}
	if j.module, err = e.module(ctx, &p); err != nil {
		return nil, fmt.Errorf("request %s: %w", requestID, err)
	}
	return j, nil
}

// module compiles the request's module, or resolves its agent.
func (e *Enclave) module(ctx context.Context, p *ExecPayload) (*wasm.Module, error) {
	if p.Agent == "" {
		return e.cfg.Executor.Compile(ctx, p.Wasm)
	}
	if e.cfg.Agents == nil {
		return nil, fmt.Errorf("agent %q: %w (this node runs only modules sent with the request)", p.Agent, ErrUnknownAgent)
	}
	return e.cfg.Agents.ResolveAgent(ctx, p.Agent)
}

func (p *ExecPayload) validate() (Kind, error) {
	kind, err := p.kind()
	if err != nil {
		return "", err
	}
	for i, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return "", fmt.Errorf("%w: argument %d contains a NUL byte", ErrBadRequest, i)
		}
	}
	return kind, nil
}

// RunOptions are the terms a job runs under.
type RunOptions struct {
	// Payment is the payment the caller verified and reserved for this
	// job; it enters the commitment. Zero for a free execution.
	Payment PaymentRef
	// Attest attaches fresh evidence over the commitment to the receipt.
	Attest bool
	// Fuel is the module's fuel budget (wasm.Input.Fuel): an agent's max_fuel, which
	// a fuel-priced call paid for up front. 0 means the executor's default. Scripts
	// have their own step limit and ignore it.
	Fuel uint64
}

// Receipt is what a client gets back: the sealed result and the signed
// commitment that binds it.
type Receipt struct {
	SessionID    ID
	RequestID    ID
	SealedResult []byte
	Commitment   [32]byte
	Signature    []byte
	IdentityPub  []byte
	Platform     attest.Platform
	// Evidence binds ResultReportData(Commitment); nil unless asked for.
	Evidence *attest.Evidence
	// ExitCode and Fuel are also inside the sealed result; they are here
	// for the node's own accounting and logs, never sent in clear.
	ExitCode uint32
	Fuel     uint64
	Duration time.Duration
}

// Run executes a job once: a second Run of the same request id, concurrent
// or later, fails with ErrReplay. Execution failures (trap, out of fuel,
// timeout, output too large) return the executor's error and no receipt. The
// fuel the module used enters the commitment and the sealed result.
func (e *Enclave) Run(ctx context.Context, j *Job, opts RunOptions) (*Receipt, error) {
	if _, err := e.sessions.get(j.session.id); err != nil {
		return nil, err
	}
	if err := j.session.claim(j.request, e.cfg.MaxRequestsPerSession); err != nil {
		return nil, err
	}
	t := Transcript{
		SessionID:  j.session.id,
		RequestID:  j.request,
		ModuleHash: j.ModuleHash(),
		Args:       j.payload.Args,
		Stdin:      j.payload.Stdin,
		Payment:    opts.Payment,
	}
	if _, err := rand.Read(t.Salt[:]); err != nil {
		return nil, fmt.Errorf("run request %s: salt: %w", j.request, err)
	}
	if j.kind == KindScript {
		return e.runScript(ctx, j, &t, opts)
	}
	in := wasm.Input{Args: j.payload.Args, Stdin: j.payload.Stdin, Seed: GuestSeed(t.Salt, j.request), Fuel: opts.Fuel}
	res, err := e.cfg.Executor.Run(ctx, j.module, in)
	if errors.Is(err, wasm.ErrModuleEvicted) {
		// The compiled module left the cache between OpenRequest and Run
		// (a payment can take a while): compile it again, same bytes.
		if j.module, err = e.module(ctx, &j.payload); err == nil {
			res, err = e.cfg.Executor.Run(ctx, j.module, in)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("run request %s: %w", j.request, err)
	}
	t.Output, t.ExitCode, t.Fuel = res.Stdout, res.ExitCode, res.Fuel
	return e.seal(ctx, j, &t, res.Stderr, res.Duration, opts.Attest)
}

// seal commits to a finished run, signs the commitment and seals the result
// to the session's client.
func (e *Enclave) seal(ctx context.Context, j *Job, t *Transcript, stderr []byte, d time.Duration, attestResult bool) (*Receipt, error) {
	commitment := t.Commitment()
	sig, err := e.cfg.Identity.SignCommitment(commitment)
	if err != nil {
		return nil, err
	}
	pt, err := json.Marshal(ResultPayload{
		Output:     t.Output,
		ExitCode:   t.ExitCode,
		Fuel:       t.Fuel,
		Salt:       t.Salt[:],
		ModuleHash: t.ModuleHash[:],
		Stderr:     stderr,
	})
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	sealed, err := seal.Seal(j.session.client, []byte(InfoResult), MessageAAD(t.SessionID, t.RequestID), pt)
	if err != nil {
		return nil, fmt.Errorf("seal result: %w", err)
	}
	r := &Receipt{
		SessionID:    t.SessionID,
		RequestID:    t.RequestID,
		SealedResult: sealed,
		Commitment:   commitment,
		Signature:    sig,
		IdentityPub:  e.cfg.Identity.PublicKey(),
		Platform:     e.cfg.Attester.Platform(),
		ExitCode:     t.ExitCode,
		Fuel:         t.Fuel,
		Duration:     d,
	}
	if attestResult || e.cfg.AttestResults {
		ev, err := e.cfg.Attester.Attest(ctx, attest.ResultReportData(commitment[:]))
		if err != nil {
			return nil, fmt.Errorf("attest result: %w", err)
		}
		r.Evidence = &ev
	}
	return r, nil
}

// GuestSeed derives the seed of a guest's random source (wasm.Input.Seed)
// from a result's salt and its request id. Nobody but the client, who alone
// learns the salt, can predict it; with it anyone holding the receipt can
// run the module again and get the same output and the same fuel (a Go
// guest's fuel depends on its random bytes, which seed the runtime's hash
// functions, so two calls with the same input differ slightly in fuel, and
// each reproduces exactly).
func GuestSeed(salt [32]byte, request ID) [32]byte {
	h := sha256.New()
	h.Write([]byte("agentnet/guest-seed/v1"))
	h.Write(salt[:])
	h.Write(request[:])
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// decodeStrict decodes JSON that must be exactly one object with known
// fields.
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after JSON object")
	}
	return nil
}

// ClientKey returns the serialized public key results of the job's session
// are sealed to.
func (j *Job) ClientKey() []byte { return j.session.client.Bytes() }
