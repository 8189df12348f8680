package tdx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agentnet/agentnode/enclave/attest"
	"github.com/agentnet/agentnode/enclave/attest/attesttest"
	"github.com/agentnet/agentnode/enclave/attest/tdx"
)

func TestConfigFSProvider(t *testing.T) {
	e := newFakeEnv(t)
	tsm := attesttest.TDXTSM(e.root, attesttest.TDXQuoteOptions{})
	qp, err := tdx.NewConfigFSProvider(tsm)
	if err != nil {
		t.Fatal(err)
	}
	a := tdx.NewAttester(qp)
	want := attest.CardReportData([]byte("id"), 7)
	ev, err := a.Attest(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.verifier(tdx.Config{}).Verify(context.Background(), ev, want, nil); err != nil {
		t.Fatalf("quote through configfs-tsm rejected: %v", err)
	}
	if n := tsm.Entries(); n != 0 {
		t.Errorf("%d report entries left behind", n)
	}

	// An SNP guest's configfs-tsm is not taken for TDX.
	snpTSM := &attesttest.FakeTSM{Provider: "sev_guest", Quote: tsm.Quote}
	if _, err := tdx.NewConfigFSProvider(snpTSM); !errors.Is(err, attest.ErrNoTEE) {
		t.Errorf("sev_guest provider: %v", err)
	}
	// A provider that turns into another one between probe and quote.
	switching := &attesttest.FakeTSM{Provider: "tdx_guest", Quote: tsm.Quote}
	qp2, err := tdx.NewConfigFSProvider(switching)
	if err != nil {
		t.Fatal(err)
	}
	switching.Provider = "sev_guest"
	if _, err := qp2.GetRawQuote(want); !errors.Is(err, attest.ErrNoTEE) {
		t.Errorf("provider switched: %v", err)
	}
	// A quote generation service answering with nothing.
	empty := &attesttest.FakeTSM{Provider: "tdx_guest", Quote: func([]byte) ([]byte, []byte, error) { return nil, nil, nil }}
	qp3, err := tdx.NewConfigFSProvider(empty)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tdx.NewAttester(qp3).Attest(context.Background(), want); !errors.Is(err, attest.ErrEmptyQuote) {
		t.Errorf("empty outblob: %v", err)
	}
}

func TestAttesterRefuses(t *testing.T) {
	e := newFakeEnv(t)
	ctx := context.Background()
	if _, err := tdx.NewAttester(&attesttest.TDXProvider{Root: e.root, Unsupported: true}).Attest(ctx, attest.ReportData{}); !errors.Is(err, attest.ErrNoTEE) {
		t.Errorf("unsupported: %v", err)
	}
	if _, err := tdx.NewAttester(&attesttest.TDXProvider{Root: e.root, Empty: true}).Attest(ctx, attest.ReportData{}); !errors.Is(err, attest.ErrEmptyQuote) {
		t.Errorf("empty: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tdx.NewAttester(&attesttest.TDXProvider{Root: e.root}).Attest(cctx, attest.ReportData{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	if a := tdx.NewAttester(&attesttest.TDXProvider{Root: e.root}); a.Platform() != attest.PlatformTDX {
		t.Error("platform")
	}
}
