package snp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-sev-guest/kds"
	"github.com/google/go-sev-guest/verify/trust"
)

// MaxKDSResponse caps a certificate or CRL fetched from AMD's KDS.
const MaxKDSResponse = 1 << 20

// DefaultFetchTimeout bounds one KDS request. go-sev-guest's own getter
// retries for up to two minutes on rate limiting, which would stall a
// session handshake; a verifier here fails fast instead.
const DefaultFetchTimeout = 10 * time.Second

// HTTPGetter fetches from AMD's KDS over HTTPS with a per-request
// timeout and no retries.
type HTTPGetter struct {
	Client *http.Client
}

// Get fetches url.
func (g *HTTPGetter) Get(url string) ([]byte, error) { return g.GetContext(context.Background(), url) }

// GetContext fetches url under ctx.
func (g *HTTPGetter) GetContext(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	c := g.Client
	if c == nil {
		c = &http.Client{Timeout: DefaultFetchTimeout}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: HTTP %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxKDSResponse+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	if len(b) > MaxKDSResponse {
		return nil, fmt.Errorf("fetch %s: response over %d bytes", url, MaxKDSResponse)
	}
	return b, nil
}

// CertCache is a directory cache in front of a KDS getter. VCEK
// certificates are immutable per chip and TCB, and product certificate
// chains change only when AMD rotates them, so both are cached for good;
// CRLs are never cached here (go-sev-guest keeps a verified CRL in memory
// until its nextUpdate). Cached bytes are re-verified like fetched ones.
type CertCache struct {
	dir  string
	next trust.HTTPSGetter
}

// NewCertCache returns a cache over dir that fills from next.
func NewCertCache(dir string, next trust.HTTPSGetter) *CertCache {
	return &CertCache{dir: dir, next: next}
}

func cacheable(url string) bool {
	if _, err := kds.ParseVCEKCertURL(url); err == nil {
		return true
	}
	_, _, err := kds.ParseProductCertChainURL(url)
	return err == nil
}

func (c *CertCache) path(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:16])+".der")
}

// Get fetches url through the cache.
func (c *CertCache) Get(url string) ([]byte, error) { return c.GetContext(context.Background(), url) }

// GetContext fetches url through the cache under ctx.
func (c *CertCache) GetContext(ctx context.Context, url string) ([]byte, error) {
	ok := c.dir != "" && cacheable(url)
	if ok {
		b, err := readCapped(c.path(url))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if c.next == nil {
		return nil, fmt.Errorf("fetch %s: not cached and fetching is off", url)
	}
	b, err := trust.GetWith(ctx, c.next, url)
	if err != nil {
		return nil, err
	}
	if ok {
		if err := writeAtomic(c.dir, c.path(url), b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func readCapped(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxKDSResponse+1))
	if err != nil {
		return nil, fmt.Errorf("read certificate cache: %w", err)
	}
	if len(b) > MaxKDSResponse {
		return nil, fmt.Errorf("read certificate cache: %s is over %d bytes", name, MaxKDSResponse)
	}
	return b, nil
}

func writeAtomic(dir, name string, b []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write certificate cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("write certificate cache: %w", err)
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), name)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write certificate cache: %w", werr)
	}
	return nil
}
