package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentnet/agentnode/node/bridge"
	"github.com/agentnet/agentnode/node/client"
	"github.com/agentnet/agentnode/script"
	"github.com/agentnet/agentnode/x402/facilitator"
	"github.com/agentnet/agentnode/x402/ledger"
	"github.com/agentnet/agentnode/x402/policy"
)

// Database settings of <data_dir>/node.db.
const (
	// dbFile is the node's bbolt database: the payment ledger and the
	// payer policy's spending.
	dbFile = "node.db"
	// dbLockTimeout bounds the wait for the database lock: another
	// process using the same data dir is an error, not a hang.
	dbLockTimeout = 2 * time.Second
	// recoverInterval is how often the node retries settlements a
	// recovery left pending after a transient error.
	recoverInterval = time.Minute
	// compactAge is how long a settled, failed or released ledger entry
	// keeps the payment and requirements it was made of (a kilobyte or two),
	// which only a settlement needs; its key, state, amount and
	// transaction stay for good, keeping the nonce used. Without it the
	// ledger would grow by those bytes with every payment ever taken.
	compactAge = 24 * time.Hour
	// compactInterval is how often the node compacts its ledger.
	compactInterval = time.Hour
)

// payments is the node's payment side (DESIGN.md §4): the database shared
// by the ledger and the payer policy, the chain link and facilitator, the
// collector the bridge charges through, and the payer of the node's own
// remote calls.
type payments struct {
	db        *bolt.DB
	chain     *chainLink // nil when the node takes no payments
	ledger    *ledger.Ledger
	collector *collector    // nil when the node takes no payments
	metrics   *payMetrics   // nil when the node takes no payments
	payer     *client.Payer // nil when the node pays nothing
	handler   http.Handler  // the /facilitator/ API, nil unless served

	ctx    context.Context // lifetime of the retry loop
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startPayments opens the payment side the configuration asks for. Before
// the bridge serves, it brings the ledger to a clean state: reservations
// a stop cut off are released, and executions a stop left unsettled are
// settled (once: the chain is asked first). n.pay is set first, so that
// Close closes a half-start.
func (n *Node) startPayments(ctx context.Context) error {
	cfg := &n.cfg.PaymentConfig
	if !cfg.TakesPayments() && !cfg.pays() {
		return nil
	}
	log := n.log.With("component", "payments")
	p := &payments{}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	n.pay = p
	db, err := bolt.Open(filepath.Join(n.cfg.DataDir, dbFile), 0o600, &bolt.Options{Timeout: dbLockTimeout})
	if err != nil {
		return fmt.Errorf("open %s: %w (is another agentnode using this data dir?)", dbFile, err)
	}
	p.db = db
	if cfg.TakesPayments() {
		if p.chain, err = openChain(ctx, cfg, log); err != nil {
			return err
		}
		if p.ledger, err = ledger.Open(db, ledger.WithLogger(log.With("part", "ledger"))); err != nil {
			return err
		}
		var payee *policy.Payee
		if cfg.PayeePolicy != "" {
			prog, err := readPolicy(cfg.PayeePolicy)
			if err != nil {
				return fmt.Errorf("config payee_policy: %w", err)
			}
			if payee, err = policy.NewPayee(ctx, policy.PayeeConfig{Policy: prog, Logger: log.With("part", "payee")}); err != nil {
				return fmt.Errorf("config payee_policy: %w", err)
			}
		}
		if p.metrics, err = newPayMetrics(n.registry); err != nil {
			return err
		}
		p.collector = newCollector(collectorConfig{
			chain: p.chain, ledger: p.ledger, payee: payee, metrics: p.metrics, log: log,
			price: n.cfg.Price, timeout: cfg.PaymentTimeout.Duration, fault: cfg.paymentFault, observe: cfg.settleObserver,
			verifyTimeout: cfg.verifyTimeout,
		})
		if err := p.recover(ctx, log); err != nil {
			return err
		}
		if cfg.Facilitator {
			p.handler = facilitator.NewHandler(p.chain.local, log.With("part", "facilitator"))
		}
		log.Info("taking payments", "network", p.chain.asset.Network, "asset", p.chain.asset.Address, "pay_to", p.chain.payTo,
			"price", n.cfg.Price, "facilitator", facilitatorKind(cfg))
	}
	if cfg.pays() {
		if p.payer, err = n.newPayer(ctx); err != nil {
			return err
		}
		log.Info("paying for remote calls", "payer", p.payer.Address(), "max_price", cfg.MaxPrice, "policy", cfg.PayerPolicy)
	}
	if p.ledger != nil {
		p.wg.Go(func() { p.retry(log) })
	}
	return nil
}

// recover runs ledger recovery once and reports what it did.
func (p *payments) recover(ctx context.Context, log *slog.Logger) error {
	r, err := p.ledger.Recover(ctx, ledgerSettler{fac: p.chain.fac})
	if err != nil {
		return fmt.Errorf("recover payments: %w", err)
	}
	if n := len(r.Settled) + len(r.AlreadySettled) + len(r.Failed) + len(r.Released) + len(r.Retry); n > 0 {
		log.Info("recovered payments", "settled", len(r.Settled), "already_settled", len(r.AlreadySettled),
			"failed", len(r.Failed), "released", len(r.Released), "retry", len(r.Retry))
	}
	for _, it := range r.Retry {
		log.Warn("payment left pending; retried every minute", "key", it.Key.String(), "err", it.Err)
	}
	return nil
}

// compact drops the settlement material of ledger entries that ended
// more than compactAge ago. A failure is logged: the ledger only stays
// larger until the next try.
func (p *payments) compact(ctx context.Context, log *slog.Logger) {
	n, err := p.ledger.Compact(ctx, time.Now().Add(-compactAge))
	if err != nil && ctx.Err() == nil {
		log.Warn("compact payment ledger", "err", err)
	}
	if n > 0 {
		p.metrics.compacted.Add(float64(n))
		log.Info("compacted payment ledger", "entries", n)
	}
}

// retry re-runs recovery every recoverInterval until close, for entries a
// transient error left pending at start, and compacts the ledger at once
// and then every compactInterval. Compaction stays off the start-up path:
// after a long stop its backlog is a day of payments.
func (p *payments) retry(log *slog.Logger) {
	p.compact(p.ctx, log)
	recoverTick := time.NewTicker(recoverInterval)
	defer recoverTick.Stop()
	compactTick := time.NewTicker(compactInterval)
	defer compactTick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-recoverTick.C:
			if err := p.recover(p.ctx, log); err != nil && p.ctx.Err() == nil {
				log.Warn("recover payments", "err", err)
			}
		case <-compactTick.C:
			p.compact(p.ctx, log)
		}
	}
}

// newPayer builds the payer of the node's remote calls: its key, and
// max_price and payer_policy as its limits, the policy keeping spending
// in the node's database.
func (n *Node) newPayer(ctx context.Context) (*client.Payer, error) {
	cfg := &n.cfg.PaymentConfig
	key, dev, err := client.ReadKeyFile(cfg.PayerKeyFile)
	if err != nil {
		return nil, fmt.Errorf("config payer_key_file: %w", err)
	}
	payer := &client.Payer{Key: key, MaxPrice: cfg.maxPrice()}
	if dev != nil {
		if a, err := dev.Asset(); err == nil {
			payer.Assets = append(payer.Assets, a)
		}
	}
	pc := policy.PayerConfig{DB: n.pay.db, MaxPrice: cfg.maxPrice(), Logger: n.log.With("component", "payer")}
	if cfg.PayerPolicy != "" {
		if pc.Policy, err = readPolicy(cfg.PayerPolicy); err != nil {
			return nil, fmt.Errorf("config payer_policy: %w", err)
		}
	}
	if payer.Policy, err = policy.NewPayer(ctx, pc); err != nil {
		return nil, fmt.Errorf("config payer_policy: %w", err)
	}
	return payer, nil
}

// close stops the retry loop and the background settlements, then the
// chain link, then the database.
func (p *payments) close() error {
	p.cancel()
	p.wg.Wait()
	var errs []error
	if p.collector != nil {
		p.collector.close()
	}
	if p.chain != nil {
		errs = append(errs, p.chain.close())
	}
	if p.db != nil {
		errs = append(errs, p.db.Close())
	}
	return errors.Join(errs...)
}

// paymentsAPI is the bridge's payment slot: nil (free) unless the node
// takes payments.
func (n *Node) paymentsAPI() bridge.Payments {
	if n.pay == nil || n.pay.collector == nil {
		return nil
	}
	return n.pay.collector
}

// facilitatorAPI is the /facilitator/ handler, nil unless served.
func (n *Node) facilitatorAPI() http.Handler {
	if n.pay == nil {
		return nil
	}
	return n.pay.handler
}

// remotePayer is the payer of the node's remote calls, nil if none.
func (n *Node) remotePayer() *client.Payer {
	if n.pay == nil {
		return nil
	}
	return n.pay.payer
}

// closePayments closes the payment side, if any.
func (n *Node) closePayments() error {
	if n.pay == nil {
		return nil
	}
	return n.pay.close()
}

func facilitatorKind(cfg *PaymentConfig) string {
	if cfg.FacilitatorURL != "" {
		return cfg.FacilitatorURL
	}
	return "local"
}

// readPolicy reads a Starlark policy file, capped at the script size
// limit.
func readPolicy(path string) (*script.Program, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, script.MaxSourceLen+1))
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", path, err)
	}
	if len(src) > script.MaxSourceLen {
		return nil, fmt.Errorf("read policy %s: over %d bytes", path, script.MaxSourceLen)
	}
	return &script.Program{Filename: filepath.Base(path), Source: src}, nil
}
