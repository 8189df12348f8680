package facilitator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentnet/agentnode/x402"
)

// Defaults of RemoteConfig.
const (
	DefaultRemoteTimeout = 60 * time.Second
	DefaultSupportedTTL  = 5 * time.Minute
	supportedRetries     = 3
)

// RemoteConfig configures NewRemote.
type RemoteConfig struct {
	// URL is the facilitator's base URL, e.g. https://x402.org/facilitator;
	// /verify, /settle and /supported are appended. Required.
	URL string
	// Client is the HTTP client; nil means a client with Timeout.
	Client *http.Client
	// Timeout bounds each request when Client is nil. Default 60s, since
	// settlement waits for a block.
	Timeout time.Duration
	// Headers, if set, adds headers to each request (for example a CDP
	// bearer token); endpoint is "verify", "settle" or "supported".
	Headers func(ctx context.Context, endpoint string) (http.Header, error)
	// SupportedTTL is how long a /supported answer is cached. Default 5m.
	SupportedTTL time.Duration
}

// Remote is a Facilitator served over HTTP by any x402 facilitator. Answers
// are size-capped; a remote answer carries no proof, so a node that needs
// certainty should check settlement transactions itself.
type Remote struct {
	cfg RemoteConfig

	// mu guards the cached /supported answer.
	mu          sync.Mutex
	supported   *x402.SupportedResponse
	supportedAt time.Time
}

var _ Facilitator = (*Remote)(nil)

// NewRemote returns a client of the facilitator at cfg.URL.
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("new remote facilitator: URL %q is not http(s)", cfg.URL)
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultRemoteTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.SupportedTTL <= 0 {
		cfg.SupportedTTL = DefaultSupportedTTL
	}
	return &Remote{cfg: cfg}, nil
}

// Verify posts {x402Version, paymentPayload, paymentRequirements} to /verify.
func (r *Remote) Verify(ctx context.Context, p x402.PaymentPayload, req x402.PaymentRequirements) (x402.VerifyResponse, error) {
	status, body, err := r.post(ctx, "verify", p, req)
	if err != nil {
		return x402.VerifyResponse{}, err
	}
	resp, err := x402.DecodeVerifyResponse(body)
	if err != nil {
		return x402.VerifyResponse{}, r.statusError("verify", status, body, err)
	}
	return resp, nil
}

// Settle posts the same body to /settle.
func (r *Remote) Settle(ctx context.Context, p x402.PaymentPayload, req x402.PaymentRequirements) (x402.SettleResponse, error) {
	status, body, err := r.post(ctx, "settle", p, req)
	if err != nil {
		return x402.SettleResponse{}, err
	}
	resp, err := x402.DecodeSettleResponseBody(body)
	if err != nil {
		return x402.SettleResponse{}, r.statusError("settle", status, body, err)
	}
	return resp, nil
}

// Supported fetches /supported, cached for SupportedTTL, retrying a 429
// answer three times with backoff.
func (r *Remote) Supported(ctx context.Context) (x402.SupportedResponse, error) {
	r.mu.Lock()
	if r.supported != nil && time.Since(r.supportedAt) < r.cfg.SupportedTTL {
		s := *r.supported
		r.mu.Unlock()
		return s, nil
	}
	r.mu.Unlock()
	backoff := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		status, body, retryAfter, err := r.do(ctx, http.MethodGet, "supported", nil)
		if err != nil {
			return x402.SupportedResponse{}, err
		}
		if status == http.StatusTooManyRequests && attempt < supportedRetries {
			wait := max(backoff, retryAfter)
			backoff *= 2
			select {
			case <-ctx.Done():
				return x402.SupportedResponse{}, fmt.Errorf("facilitator supported: %w", ctx.Err())
			case <-time.After(wait):
			}
			continue
		}
		if status/100 != 2 {
			return x402.SupportedResponse{}, &StatusError{Endpoint: "supported", Status: status, Body: snippet(body)}
		}
		s, err := x402.DecodeSupportedResponse(body)
		if err != nil {
			return x402.SupportedResponse{}, fmt.Errorf("facilitator supported: %v: %w", err, ErrBadResponse)
		}
		r.mu.Lock()
		r.supported, r.supportedAt = &s, time.Now()
		r.mu.Unlock()
		return s, nil
	}
}

func (r *Remote) post(ctx context.Context, endpoint string, p x402.PaymentPayload, req x402.PaymentRequirements) (int, []byte, error) {
	body, err := x402.EncodeFacilitatorRequest(x402.FacilitatorRequest{X402Version: x402.Version, PaymentPayload: p, PaymentRequirements: req})
	if err != nil {
		return 0, nil, fmt.Errorf("facilitator %s: %w", endpoint, err)
	}
	status, resp, _, err := r.do(ctx, http.MethodPost, endpoint, body)
	return status, resp, err
}

// do sends one request and reads at most x402.MaxBodySize of the answer.
func (r *Remote) do(ctx context.Context, method, endpoint string, body []byte) (status int, resp []byte, retryAfter time.Duration, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, r.cfg.URL+"/"+endpoint, rd)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("facilitator %s: %w", endpoint, err)
	}
	hreq.Header.Set("Accept", "application/json")
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if r.cfg.Headers != nil {
		h, err := r.cfg.Headers(ctx, endpoint)
		if err != nil {
			return 0, nil, 0, fmt.Errorf("facilitator %s: headers: %w", endpoint, err)
		}
		for k, vs := range h {
			for _, v := range vs {
				hreq.Header.Add(k, v)
			}
		}
	}
	hresp, err := r.cfg.Client.Do(hreq)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("facilitator %s: %w", endpoint, err)
	}
	defer hresp.Body.Close()
	resp, err = io.ReadAll(io.LimitReader(hresp.Body, x402.MaxBodySize+1))
	if err != nil {
		return 0, nil, 0, fmt.Errorf("facilitator %s: read answer: %w", endpoint, err)
	}
	if len(resp) > x402.MaxBodySize {
		return 0, nil, 0, fmt.Errorf("facilitator %s: %w", endpoint, ErrTooLarge)
	}
	if s, err := strconv.Atoi(hresp.Header.Get("Retry-After")); err == nil && s > 0 && s <= 60 {
		retryAfter = time.Duration(s) * time.Second
	}
	return hresp.StatusCode, resp, retryAfter, nil
}

// statusError explains an answer that did not decode: SDK facilitators may
// answer non-2xx with a usable body, so the status alone is not an error.
func (r *Remote) statusError(endpoint string, status int, body []byte, err error) error {
	if status/100 != 2 {
		return &StatusError{Endpoint: endpoint, Status: status, Body: snippet(body)}
	}
	return fmt.Errorf("facilitator %s: %v: %w", endpoint, err, ErrBadResponse)
}

// snippet returns a short printable excerpt of an error body.
func snippet(b []byte) string {
	var m struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &m) == nil && len(m.Error) > 0 {
		b = m.Error
	}
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
