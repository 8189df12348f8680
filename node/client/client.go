// Package client is the Go client of a node's HTTP bridge and the whole
// client side of its flows: it opens an attested session and checks the
// evidence against a Policy, seals requests, opens sealed results, and
// verifies each result's commitment and signature before handing it out.
// `agentnode exec` is a thin shell around it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/seal"
	"github.com/agentnet/agentnode/node/api"
	"github.com/agentnet/agentnode/x402"
)

// Config configures a Client. Verifiers is required, and NodeURL unless
// Transport is set.
type Config struct {
	// NodeURL is the bridge's base URL, e.g. http://127.0.0.1:3000.
	NodeURL string
	// Transport carries sessions and executions; nil means the bridge at
	// NodeURL. NewP2PTransport reaches a node over libp2p instead.
	Transport Transport
	// PeerID, when set, is the node the client must be talking to: a
	// session whose identity key is another peer's is refused.
	PeerID string
	// Policy is what the client requires of the node's evidence; nil means
	// attest.DefaultPolicy (genuine hardware, any measurement, no sim).
	Policy *attest.Policy
	// Verifiers checks evidence per platform.
	Verifiers attest.Verifiers
	// Suite is the HPKE suite of new sessions; "" means x25519.
	Suite seal.Suite
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
	// MaxResponseBytes caps a response body. Default 64 MiB.
	MaxResponseBytes int64
	// APIToken is sent as "Authorization: Bearer <token>" when set.
	APIToken string
	// Payer, when set, pays nodes that answer 402 (x402), within its
	// limits; nil leaves a 402 as a *PaymentError naming the price.
	Payer *Payer
}

// Client talks to one node. It is safe for concurrent use and keeps one
// verified session, renewed before it expires.
type Client struct {
	cfg  Config
	base *url.URL // nil without NodeURL
	tr   Transport

	mu      sync.Mutex
	session *Session

	// termsMu guards terms: the payment terms the node asked last, per
	// kind of request, which the payer pays up front next time.
	termsMu sync.Mutex
	terms   map[string]*x402.PaymentRequired
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	var u *url.URL
	if cfg.Transport == nil || cfg.NodeURL != "" {
		var err error
		u, err = url.Parse(strings.TrimRight(cfg.NodeURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("client config: node URL %q: want http(s)://host:port", cfg.NodeURL)
		}
	}
	if len(cfg.Verifiers) == 0 {
		return nil, errors.New("client config: no evidence verifiers")
	}
	if cfg.Payer != nil {
		if err := cfg.Payer.validate(); err != nil {
			return nil, err
		}
	}
	if cfg.Policy == nil {
		cfg.Policy = attest.DefaultPolicy()
	}
	suite, err := seal.ParseSuite(string(cfg.Suite))
	if err != nil {
		return nil, fmt.Errorf("client config: %w", err)
	}
	cfg.Suite = suite
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 64 << 20
	}
	c := &Client{cfg: cfg, base: u, tr: cfg.Transport}
	if c.tr == nil {
		c.tr = httpTransport{c}
	}
	return c, nil
}

// Policy returns the policy evidence is checked against.
func (c *Client) Policy() *attest.Policy { return c.cfg.Policy }

// APIError is an error response of the bridge.
type APIError struct {
	Status  int
	Code    string
	Message string
	Header  http.Header
	// PaymentRequired is the node's payment terms on a 402 answer, from
	// its PAYMENT-REQUIRED header or v1 body.
	PaymentRequired *x402.PaymentRequired
}

func (e *APIError) Error() string {
	return fmt.Sprintf("node answered %d %s: %s", e.Status, e.Code, e.Message)
}

// post sends a JSON body and decodes a JSON answer; a non-2xx answer is an
// *APIError. It returns the response's headers.
func (c *Client) post(ctx context.Context, path string, header http.Header, in, out any) (http.Header, error) {
	if c.base == nil {
		return nil, fmt.Errorf("post %s: %w", path, errNoURL)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	return c.do(req, out)
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	if c.base == nil {
		return fmt.Errorf("get %s: %w", path, errNoURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+path, nil)
	if err != nil {
		return fmt.Errorf("build %s request: %w", path, err)
	}
	_, err = c.do(req, out)
	return err
}

func (c *Client) do(req *http.Request, out any) (http.Header, error) {
	if c.cfg.APIToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIToken)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s response: %w", req.URL.Path, err)
	}
	if int64(len(b)) > c.cfg.MaxResponseBytes {
		return nil, fmt.Errorf("read %s response: over %d bytes", req.URL.Path, c.cfg.MaxResponseBytes)
	}
	if resp.StatusCode/100 != 2 {
		return nil, ReplyError(resp.StatusCode, resp.Header, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("decode %s response: %w", req.URL.Path, err)
	}
	return resp.Header, nil
}

// NodeInfo returns GET /v1/node.
func (c *Client) NodeInfo(ctx context.Context) (*api.NodeInfo, error) {
	var info api.NodeInfo
	if err := c.get(ctx, "/v1/node", &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Health checks GET /healthz.
func (c *Client) Health(ctx context.Context) error {
	var v map[string]string
	return c.get(ctx, "/healthz", &v)
}
