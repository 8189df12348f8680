package snp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/attesttest"
	"github.com/agentnet/agentnode/enclave/attest/snp"
)

func TestAttesterRefuses(t *testing.T) {
	e := newFakeEnv(t, goodTCB)
	ctx := context.Background()
	if _, err := snp.NewAttester(&attesttest.SNPProvider{Signer: e.signer, Unsupported: true}).Attest(ctx, attest.ReportData{}); !errors.Is(err, attest.ErrNoTEE) {
		t.Errorf("unsupported: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := attesttest.NewSNPAttester(e.signer, attesttest.SNPReportOptions{}).Attest(cctx, attest.ReportData{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	if _, err := snp.NewAttester(onlyPlain{&attesttest.SNPProvider{Signer: e.signer}}, snp.WithVMPL(1)).Attest(ctx, attest.ReportData{}); err == nil {
		t.Error("vmpl on a provider that cannot choose it")
	}
	if _, err := snp.NewAttester(badProvider{&attesttest.SNPProvider{Signer: e.signer}}).Attest(ctx, attest.ReportData{}); !errors.Is(err, attest.ErrMalformedQuote) {
		t.Errorf("short report: %v", err)
	}
}

// onlyPlain hides GetRawQuoteAtLevel.
type onlyPlain struct{ *attesttest.SNPProvider }

func (onlyPlain) GetRawQuoteAtLevel() {}

// badProvider returns a truncated report.
type badProvider struct{ *attesttest.SNPProvider }

func (b badProvider) GetRawQuote(rd [64]byte) ([]uint8, error) {
	q, err := b.SNPProvider.GetRawQuote(rd)
	return q[:100], err
}
