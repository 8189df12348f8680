package tdx

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-tdx-guest/pcs"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"
	"github.com/google/go-tdx-guest/verify/trust"
)

// MaxCollateralFile caps one cached PCS response. Intel's TCB info, QE
// identity and CRLs are a few KiB each.
const MaxCollateralFile = 1 << 20

// CollateralCache is a directory of Intel PCS responses (TCB info, QE
// identity, PCK CRL, root CA CRL) keyed by URL, served to the verifier
// offline. Responses keep their signatures, which the verifier re-checks,
// so a tampered cache cannot forge collateral; a stale one fails with an
// expiry error. Refresh it before the responses' nextUpdate (about 30
// days) with [CollateralCache.Refresh].
type CollateralCache struct {
	dir string
}

// NewCollateralCache returns a cache over dir. The directory need not exist
// until Refresh writes to it.
func NewCollateralCache(dir string) *CollateralCache { return &CollateralCache{dir: dir} }

type cachedResponse struct {
	URL    string              `json:"url"`
	Header map[string][]string `json:"header"`
	Body   []byte              `json:"body"`
}

func (c *CollateralCache) path(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:16])+".json")
}

// Get serves the cached response for url (go-tdx-guest's HTTPSGetter).
func (c *CollateralCache) Get(url string) (map[string][]string, []byte, error) {
	f, err := os.Open(c.path(url))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("read collateral cache: %s not cached in %s (refresh the cache)", url, c.dir)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read collateral cache: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxCollateralFile+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read collateral cache: %w", err)
	}
	if len(b) > MaxCollateralFile {
		return nil, nil, fmt.Errorf("read collateral cache: %s is over %d bytes", f.Name(), MaxCollateralFile)
	}
	var r cachedResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, nil, fmt.Errorf("decode collateral cache %s: %w", f.Name(), err)
	}
	if r.URL != url {
		return nil, nil, fmt.Errorf("decode collateral cache %s: holds %q, not %q", f.Name(), r.URL, url)
	}
	return r.Header, r.Body, nil
}

// Put stores a response for url, atomically replacing any older one.
func (c *CollateralCache) Put(url string, header map[string][]string, body []byte) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("write collateral cache: %w", err)
	}
	b, err := json.Marshal(cachedResponse{URL: url, Header: header, Body: body})
	if err != nil {
		return fmt.Errorf("encode collateral cache entry: %w", err)
	}
	tmp, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("write collateral cache: %w", err)
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), c.path(url))
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write collateral cache: %w", werr)
	}
	return nil
}

// recorder fetches through a live getter and stores what it fetched.
type recorder struct {
	ctx   context.Context
	live  trust.HTTPSGetter
	cache *CollateralCache
	err   error
}

func (r *recorder) Get(url string) (map[string][]string, []byte, error) {
	if err := r.ctx.Err(); err != nil {
		r.err = errors.Join(r.err, err)
		return nil, nil, err
	}
	h, b, err := r.live.Get(url)
	if err != nil {
		r.err = errors.Join(r.err, fmt.Errorf("fetch %s: %w", url, err))
		return nil, nil, err
	}
	if err := r.cache.Put(url, h, b); err != nil {
		r.err = errors.Join(r.err, err)
	}
	return h, b, nil
}

// Refresh fetches, through live (nil means Intel PCS over HTTPS with a
// timeout per request), every collateral response the quote raw needs and
// stores them. It runs the real verification to learn the URLs, so it
// fails if fetching or storing fails, but not if the fetched collateral
// rejects the quote: that is the verifier's verdict to give later. ctx
// stops it between requests.
func (c *CollateralCache) Refresh(ctx context.Context, raw []byte, roots *x509.CertPool, live trust.HTTPSGetter, now time.Time) error {
	q, err := parseQuote(raw)
	if err != nil {
		return fmt.Errorf("refresh collateral: %w", err)
	}
	if live == nil {
		live = &pcsGetter{ctx: ctx, client: &http.Client{Timeout: 30 * time.Second}}
	}
	if roots == nil {
		roots, _ = ParseRoots(intelRootPEM)
	}
	rec := &recorder{ctx: ctx, live: live, cache: c}
	_ = verify.TdxQuote(q, &verify.Options{GetCollateral: true, CheckRevocations: true, Getter: rec, Now: now, TrustedRoots: roots})
	if rec.err != nil {
		return fmt.Errorf("refresh collateral: %w", rec.err)
	}
	return nil
}

// pcsGetter fetches from Intel PCS: one attempt per URL, bounded by the
// client's timeout and ctx, the body capped at MaxCollateralFile.
type pcsGetter struct {
	ctx    context.Context
	client *http.Client
}

func (g *pcsGetter) Get(url string) (map[string][]string, []byte, error) {
	req, err := http.NewRequestWithContext(g.ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxCollateralFile+1))
	if err != nil {
		return nil, nil, err
	}
	if len(b) > MaxCollateralFile {
		return nil, nil, fmt.Errorf("response over %d bytes", MaxCollateralFile)
	}
	return resp.Header, b, nil
}

// collateralExpiry returns the earliest nextUpdate of the TCB info and QE
// identity the getter serves for q's platform, or zero if unknown.
func collateralExpiry(g trust.HTTPSGetter, q *pb.QuoteV4) time.Time {
	chain := q.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain()
	b, _ := pem.Decode(chain)
	if b == nil {
		return time.Time{}
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return time.Time{}
	}
	ext, err := pcs.PckCertificateExtensions(leaf)
	if err != nil {
		return time.Time{}
	}
	var earliest time.Time
	if _, body, err := g.Get(pcs.TcbInfoURL(ext.FMSPC)); err == nil {
		var ti pcs.TdxTcbInfo
		if json.Unmarshal(body, &ti) == nil {
			earliest = ti.TcbInfo.NextUpdate
		}
	}
	if _, body, err := g.Get(pcs.QeIdentityURL()); err == nil {
		var qi pcs.QeIdentity
		if json.Unmarshal(body, &qi) == nil {
			if t := qi.EnclaveIdentity.NextUpdate; earliest.IsZero() || (!t.IsZero() && t.Before(earliest)) {
				earliest = t
			}
		}
	}
	return earliest
}
