package evm

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"runtime/trace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/agentnet/agentnode/x402"
)

// Defaults of SettlerConfig.
const (
	DefaultReceiptTimeout = 30 * time.Second
	DefaultPollInterval   = 50 * time.Millisecond
	DefaultLogLookback    = 100_000
	DefaultFeeTTL         = time.Second
	settledCacheSize      = 16384
)

// SettlerConfig configures NewSettler.
type SettlerConfig struct {
	// RPC is a client of the chain to settle on. Required. A client with
	// subscriptions (in-process, WebSocket) is told of new blocks; over
	// HTTP the settler polls at PollInterval while it waits for receipts.
	RPC *rpc.Client
	// Key is the facilitator's gas key: it sends transferWithAuthorization
	// and pays the gas. Required.
	Key *ecdsa.PrivateKey
	// ReceiptTimeout bounds the wait for a receipt; past it Settle answers
	// settlement_pending with the transaction hash. Default 30s.
	ReceiptTimeout time.Duration
	// PollInterval is the block polling interval over HTTP. Default 50ms.
	PollInterval time.Duration
	// GasLimit, when set, is the gas limit of every settlement. By default
	// the first settlement of each token is estimated (eth_estimateGas) and
	// later ones use the largest estimate seen plus GasMargin: the cost of
	// transferWithAuthorization barely varies, and the simulation that
	// turns reverts into reasons already runs in the verification batch.
	GasLimit uint64
	// LogLookback is how many blocks back Settle searches for an earlier
	// settlement of an authorization found used. Default 100000.
	LogLookback uint64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives settlement events; nil discards. Keys never appear.
	Logger *slog.Logger
}

// Settler submits EIP-3009 settlements from one gas key. It keeps the
// key's account nonce in memory (one lookup at start, resynchronised only
// after a nonce error), so concurrent settlements are sent back to back and
// share blocks; receipts are collected per block by one watcher. Settle is
// idempotent per authorization. Close stops the watcher.
type Settler struct {
	cfg      SettlerConfig
	verifier *Verifier
	client   *ethclient.Client
	abi      abi.ABI
	from     common.Address
	chainID  *big.Int
	signer   types.Signer
	watcher  *watcher

	// sendMu serializes signing and sending, and guards the account nonce.
	sendMu     sync.Mutex
	nonce      uint64
	nonceKnown bool

	// gasMu guards gasByToken, the largest gas estimate seen per token.
	gasMu      sync.Mutex
	gasByToken map[common.Address]uint64

	feeMu  sync.Mutex
	tip    *big.Int
	feeCap *big.Int
	feeAt  time.Time

	// flightMu guards inflight: one settlement per authorization at a
	// time; concurrent calls for the same one share its outcome.
	flightMu sync.Mutex
	inflight map[authKey]*flight

	// settled remembers the transaction of each authorization this
	// settler settled or broadcast, for idempotent retries.
	settled *lru.Cache[authKey, settledTx]
	// verified remembers the head at which this settler last verified
	// each authorization, so that settling it before the next block
	// spares the chain a second identical read (verified.go).
	verified *lru.Cache[authKey, verifiedAt]

	closeOnce sync.Once
	closed    atomic.Bool
}

type authKey struct {
	token common.Address
	from  common.Address
	nonce [32]byte
}

// authKey names the authorization c carries: one per token, payer and
// nonce, whatever else it says.
func (c Checked) authKey() authKey {
	return authKey{token: c.Domain.VerifyingContract, from: c.From, nonce: c.Nonce}
}

// settledTx is a transaction sent for an authorization; digest tells
// whether a later payment with the same nonce is the same authorization.
type settledTx struct {
	tx     common.Hash
	digest common.Hash
}

type flight struct {
	done chan struct{}
	resp x402.SettleResponse
	err  error
}

// NewSettler returns a Settler for the chain cfg.RPC serves. It reads the
// chain id and the gas key's pending nonce once.
func NewSettler(ctx context.Context, cfg SettlerConfig) (*Settler, error) {
	if cfg.RPC == nil || cfg.Key == nil {
		return nil, errors.New("new settler: RPC and Key are required")
	}
	if cfg.ReceiptTimeout <= 0 {
		cfg.ReceiptTimeout = DefaultReceiptTimeout
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.LogLookback == 0 {
		cfg.LogLookback = DefaultLogLookback
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	client := ethclient.NewClient(cfg.RPC)
	chainID, err := client.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("new settler: read chain id: %w", err)
	}
	verifier, err := NewVerifier(VerifierConfig{ChainID: chainID.Uint64(), RPC: cfg.RPC, Now: cfg.Now, From: addressOf(cfg.Key)})
	if err != nil {
		return nil, fmt.Errorf("new settler: %w", err)
	}
	settled, _ := lru.New[authKey, settledTx](settledCacheSize)
	verified, _ := lru.New[authKey, verifiedAt](settledCacheSize)
	s := &Settler{
		cfg:        cfg,
		verifier:   verifier,
		client:     client,
		abi:        tokenABI(),
		from:       addressOf(cfg.Key),
		chainID:    chainID,
		signer:     types.LatestSignerForChainID(chainID),
		inflight:   make(map[authKey]*flight),
		gasByToken: make(map[common.Address]uint64),
		settled:    settled,
		verified:   verified,
	}
	if err := s.syncNonceLocked(ctx); err != nil {
		return nil, fmt.Errorf("new settler: %w", err)
	}
	s.watcher = newWatcher(client, cfg.PollInterval, cfg.Logger)
	return s, nil
}

// Address returns the gas key's address (the facilitator's signer).
func (s *Settler) Address() common.Address { return s.from }

// Verifier returns the verifier the settler re-checks payments with.
func (s *Settler) Verifier() *Verifier { return s.verifier }

// Network returns the CAIP-2 id of the settler's chain.
func (s *Settler) Network() x402.Network { return s.verifier.network }

// Close stops the receipt watcher; waiting Settle calls return ErrClosed.
func (s *Settler) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.watcher.close()
	})
	return nil
}

// Settle submits the payment and waits for its receipt. Business failures
// are answers (Success false with a reason), not errors; the error is for
// a closed settler or a cancelled ctx. Settle is idempotent: when the
// authorization is already used on chain by exactly this transfer, it
// answers success with that transaction; a receipt that does not come
// within ReceiptTimeout yields settlement_pending with the hash, and a
// later Settle of the same payment waits for that transaction again
// instead of sending another.
func (s *Settler) Settle(ctx context.Context, p x402.PaymentPayload, req x402.PaymentRequirements) (x402.SettleResponse, error) {
	fail := func(err error) (x402.SettleResponse, error) {
		var e *Error
		if errors.As(err, &e) {
			return x402.SettleResponse{Success: false, ErrorReason: e.Reason, ErrorMessage: e.Error(), Payer: e.Payer, Network: req.Network}, nil
		}
		return x402.SettleResponse{}, err
	}
	if s.closed.Load() {
		return x402.SettleResponse{}, fmt.Errorf("settle: %w", ErrClosed)
	}
	c, err := s.verifier.parse(p, req)
	if err != nil {
		return fail(err)
	}
	key := c.authKey()

	s.flightMu.Lock()
	if f, ok := s.inflight[key]; ok {
		s.flightMu.Unlock()
		select {
		case <-f.done:
			return f.resp, f.err
		case <-ctx.Done():
			return x402.SettleResponse{}, fmt.Errorf("settle: %w", ctx.Err())
		}
	}
	f := &flight{done: make(chan struct{})}
	s.inflight[key] = f
	s.flightMu.Unlock()

	f.resp, f.err = s.settle(ctx, key, c, req)
	if f.err != nil {
		f.resp, f.err = fail(f.err)
	}
	s.flightMu.Lock()
	delete(s.inflight, key)
	s.flightMu.Unlock()
	close(f.done)
	return f.resp, f.err
}

func (s *Settler) settle(ctx context.Context, key authKey, c Checked, req x402.PaymentRequirements) (x402.SettleResponse, error) {
	payer := c.From.Hex()
	// A transaction this settler already broadcast for the authorization.
	digest := c.StructHash()
	if prev, ok := s.settled.Get(key); ok && prev.digest == digest {
		return s.await(ctx, key, prev.tx, 0, c, req)
	}
	// A payment this settler verified at the current head needs no
	// second read: the chain would answer the same (verified.go).
	var st tokenState
	if !s.verifiedAtHead(key, digest) {
		region := trace.StartRegion(ctx, "evm.check")
		var err error
		st, err = s.verifier.state(ctx, c)
		region.End()
		if err != nil {
			return x402.SettleResponse{}, err
		}
	}
	if st.used {
		return s.findEarlier(ctx, c, req)
	}
	if err := s.verifier.checkTime(c); err != nil {
		return x402.SettleResponse{}, err
	}
	if err := st.check(c); err != nil {
		return x402.SettleResponse{}, err
	}
	data, err := packTransfer(s.abi, c.Authorization, c.Signature)
	if err != nil {
		return x402.SettleResponse{}, &Error{Reason: x402.ReasonExactEVMExecuteTransfer, Payer: payer, Err: err}
	}
	token := c.Domain.VerifyingContract
	gas, err := s.gasLimit(ctx, token, data)
	if err != nil {
		return x402.SettleResponse{}, &Error{Reason: reasonForRevert(err.Error()), Message: "estimate transferWithAuthorization", Payer: payer, Err: err}
	}
	tip, feeCap, err := s.fees(ctx)
	if err != nil {
		return x402.SettleResponse{}, &Error{Reason: x402.ReasonExactEVMExecuteTransfer, Message: "read gas price", Payer: payer, Err: err}
	}
	sentAt, _ := s.watcher.currentHead()
	region := trace.StartRegion(ctx, "evm.send")
	tx, err := s.send(ctx, &types.DynamicFeeTx{ChainID: s.chainID, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: &token, Data: data})
	region.End()
	if err != nil {
		return x402.SettleResponse{}, &Error{Reason: reasonForRevert(err.Error()), Message: "send transferWithAuthorization", Payer: payer, Err: err}
	}
	s.settled.Add(key, settledTx{tx: tx.Hash(), digest: digest})
	s.cfg.Logger.Debug("settlement sent", "tx", tx.Hash(), "payer", payer, "nonce", tx.Nonce())
	return s.await(ctx, key, tx.Hash(), sentAt, c, req)
}

// GasMargin is added to the cached gas estimate of a token's
// transferWithAuthorization: it covers the dearer first write of a new
// recipient's balance. Unused gas is not charged.
const GasMargin = 50_000

func (s *Settler) gasLimit(ctx context.Context, token common.Address, data []byte) (uint64, error) {
	if s.cfg.GasLimit != 0 {
		return s.cfg.GasLimit, nil
	}
	s.gasMu.Lock()
	cached := s.gasByToken[token]
	s.gasMu.Unlock()
	if cached != 0 {
		return cached + GasMargin, nil
	}
	est, err := s.client.EstimateGas(ctx, ethereum.CallMsg{From: s.from, To: &token, Data: data})
	if err != nil {
		return 0, err
	}
	s.gasMu.Lock()
	s.gasByToken[token] = max(s.gasByToken[token], est)
	s.gasMu.Unlock()
	return est + GasMargin, nil
}

// send signs tx with the next account nonce and submits it; on a nonce
// error it resynchronises from the node once and retries.
func (s *Settler) send(ctx context.Context, tx *types.DynamicFeeTx) (*types.Transaction, error) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	for attempt := 0; ; attempt++ {
		if !s.nonceKnown {
			if err := s.syncNonceLocked(ctx); err != nil {
				return nil, err
			}
		}
		tx.Nonce = s.nonce
		signed, err := types.SignNewTx(s.cfg.Key, s.signer, tx)
		if err != nil {
			return nil, fmt.Errorf("sign transaction: %w", err)
		}
		err = s.client.SendTransaction(ctx, signed)
		if err == nil {
			s.nonce++
			return signed, nil
		}
		if attempt == 0 && isNonceError(err) {
			s.nonceKnown = false
			continue
		}
		return nil, fmt.Errorf("send transaction: %w", err)
	}
}

func (s *Settler) syncNonceLocked(ctx context.Context) error {
	n, err := s.client.PendingNonceAt(ctx, s.from)
	if err != nil {
		return fmt.Errorf("read account nonce: %w", err)
	}
	s.nonce, s.nonceKnown = n, true
	return nil
}

func isNonceError(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "nonce too low") || strings.Contains(m, "nonce too high") ||
		strings.Contains(m, "already known") || strings.Contains(m, "replacement transaction underpriced")
}

// fees returns the tip and fee cap, cached for DefaultFeeTTL: the fee
// market moves per block, not per settlement.
func (s *Settler) fees(ctx context.Context) (*big.Int, *big.Int, error) {
	s.feeMu.Lock()
	defer s.feeMu.Unlock()
	if s.tip != nil && s.cfg.Now().Sub(s.feeAt) < DefaultFeeTTL {
		return s.tip, s.feeCap, nil
	}
	tip, err := s.client.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, nil, err
	}
	head, err := s.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	feeCap := new(big.Int).Set(tip)
	if head.BaseFee != nil {
		feeCap.Add(feeCap, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	}
	s.tip, s.feeCap, s.feeAt = tip, feeCap, s.cfg.Now()
	return tip, feeCap, nil
}
