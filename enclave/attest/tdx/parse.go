package tdx

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"

	"github.com/agentnet/agentnode/enclave/attest"
)

// Layout of a DCAP v4 quote, from the Intel TDX DCAP Quoting Library API:
// a 48-byte header, the 584-byte TD quote body, a 4-byte signed-data size,
// then the signed data (signature, attestation key, certification data).
const (
	headerSize        = 0x30
	bodySize          = 0x248
	signedSizeOffset  = headerSize + bodySize
	signedDataOffset  = signedSizeOffset + 4
	sigAndKeySize     = 0x80
	certHeaderSize    = 6
	qeReportAndSig    = 0x1C0
	authSizeFieldSize = 2
	debugBit          = 0x01
)

// MinQuoteSize is the smallest well-formed TDX quote.
const MinQuoteSize = abi.QuoteMinSize

// parseQuote checks the size and nested lengths of raw and parses it. It
// never panics: the nested length fields are bounds-checked before the
// library parser slices on them, and a panic the checks missed becomes an
// error.
func parseQuote(raw []byte) (q *pb.QuoteV4, err error) {
	switch {
	case len(raw) == 0:
		return nil, fmt.Errorf("parse tdx quote: %w", attest.ErrEmptyQuote)
	case len(raw) > attest.MaxQuoteSize:
		return nil, fmt.Errorf("parse tdx quote: %d bytes: %w", len(raw), attest.ErrQuoteTooLarge)
	case len(raw) < MinQuoteSize:
		return nil, fmt.Errorf("parse tdx quote: %d bytes, want at least %d: %w", len(raw), MinQuoteSize, attest.ErrMalformedQuote)
	}
	if err := checkLayout(raw); err != nil {
		return nil, fmt.Errorf("parse tdx quote: %w: %w", attest.ErrMalformedQuote, err)
	}
	defer func() {
		if r := recover(); r != nil {
			q, err = nil, fmt.Errorf("parse tdx quote: %w: %v", attest.ErrMalformedQuote, r)
		}
	}()
	v, perr := abi.QuoteToProto(raw)
	if perr != nil {
		return nil, fmt.Errorf("parse tdx quote: %w: %v", attest.ErrMalformedQuote, perr)
	}
	q, ok := v.(*pb.QuoteV4)
	if !ok {
		return nil, fmt.Errorf("parse tdx quote: unsupported quote type %T: %w", v, attest.ErrMalformedQuote)
	}
	if q.GetHeader().GetTeeType() != abi.TeeTDX {
		return nil, fmt.Errorf("parse tdx quote: tee type %#x is not TDX: %w", q.GetHeader().GetTeeType(), attest.ErrMalformedQuote)
	}
	return q, nil
}

// checkLayout walks the length fields the library parser trusts.
func checkLayout(raw []byte) error {
	if v := binary.LittleEndian.Uint16(raw); v != abi.QuoteVersion {
		return fmt.Errorf("quote version %d, want %d", v, abi.QuoteVersion)
	}
	size := uint64(binary.LittleEndian.Uint32(raw[signedSizeOffset:]))
	if size > uint64(len(raw)-signedDataOffset) {
		return fmt.Errorf("signed data size %d exceeds the %d bytes present", size, len(raw)-signedDataOffset)
	}
	signed := raw[signedDataOffset : signedDataOffset+int(size)]
	if len(signed) < sigAndKeySize+certHeaderSize {
		return fmt.Errorf("signed data of %d bytes is too short", len(signed))
	}
	cert := signed[sigAndKeySize+certHeaderSize:]
	if n := binary.LittleEndian.Uint32(signed[sigAndKeySize+2:]); uint64(n) != uint64(len(cert)) {
		return fmt.Errorf("certification data size %d, have %d bytes", n, len(cert))
	}
	if len(cert) < qeReportAndSig+authSizeFieldSize {
		return fmt.Errorf("certification data of %d bytes is too short", len(cert))
	}
	auth := int(binary.LittleEndian.Uint16(cert[qeReportAndSig:]))
	if len(cert) < qeReportAndSig+authSizeFieldSize+auth+certHeaderSize {
		return fmt.Errorf("QE authentication data of %d bytes overruns the certification data", auth)
	}
	return nil
}

// ParseClaims parses a TDX quote and returns the claims it makes without
// verifying anything: for display (`agentnode attest measure`) and for
// tools, never for trust decisions.
func ParseClaims(raw []byte) (*attest.Claims, error) {
	q, err := parseQuote(raw)
	if err != nil {
		return nil, err
	}
	return claimsOf(q), nil
}

// claimsOf extracts the claims of a parsed quote.
func claimsOf(q *pb.QuoteV4) *attest.Claims {
	b := q.GetTdQuoteBody()
	c := &attest.Claims{
		Platform: attest.PlatformTDX,
		Measurements: map[string]attest.HexBytes{
			"mrtd":       bytes.Clone(b.GetMrTd()),
			"mrconfigid": bytes.Clone(b.GetMrConfigId()),
		},
		TCB:   tcbString(q),
		Debug: isDebug(b),
	}
	for i, r := range b.GetRtmrs() {
		c.Measurements[fmt.Sprintf("rtmr%d", i)] = bytes.Clone(r)
	}
	copy(c.ReportData[:], b.GetReportData())
	return c
}

// isDebug reports TD_ATTRIBUTES.DEBUG (bit 0): the host can read and
// change the TD's memory and registers.
func isDebug(b *pb.TDQuoteBody) bool {
	a := b.GetTdAttributes()
	return len(a) > 0 && a[0]&debugBit != 0
}

// tcbString renders the TCB versions a quote reports.
func tcbString(q *pb.QuoteV4) string {
	h := q.GetHeader()
	var qe, pce uint16
	if s := h.GetQeSvn(); len(s) == 2 {
		qe = binary.LittleEndian.Uint16(s)
	}
	if s := h.GetPceSvn(); len(s) == 2 {
		pce = binary.LittleEndian.Uint16(s)
	}
	return fmt.Sprintf("tee_tcb_svn=%s qe_svn=%d pce_svn=%d",
		hex.EncodeToString(q.GetTdQuoteBody().GetTeeTcbSvn()), qe, pce)
}
