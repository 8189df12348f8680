package attesttest

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-tdx-guest/pcs"
	"github.com/google/go-tdx-guest/testing/testdata"
)

// TDXCollateralOptions shapes synthetic Intel PCS collateral.
type TDXCollateralOptions struct {
	// Issued and NextUpdate bound the collateral's validity.
	Issued, NextUpdate time.Time
	// TCBStatus is the status of the only TCB level: "UpToDate" (the
	// default) or, say, "OutOfDate".
	TCBStatus string
	// RevokePCK lists the fake PCK leaf in the PCK CRL.
	RevokePCK bool
	// RevokeIntermediate lists the PCK Platform CA in the root CA CRL.
	RevokeIntermediate bool
}

// MapGetter serves fixed responses by URL, as go-tdx-guest's
// trust.HTTPSGetter.
type MapGetter map[string]MapResponse

// MapResponse is one canned HTTP response.
type MapResponse struct {
	Header map[string][]string
	Body   []byte
}

// Get returns the response for u or an error naming it.
func (g MapGetter) Get(u string) (map[string][]string, []byte, error) {
	r, ok := g[u]
	if !ok {
		return nil, nil, fmt.Errorf("fake pcs: no response for %s", u)
	}
	return r.Header, r.Body, nil
}

// Collateral returns Intel PCS responses for quotes of r, signed by r's TCB
// signing key and CAs, which the real verifier accepts with GetCollateral
// and CheckRevocations when r's root is trusted. The TCB levels are
// lowered to zero so that the sample's SVNs match them.
func (r *TDXRoot) Collateral(o TDXCollateralOptions) (MapGetter, error) {
	if o.TCBStatus == "" {
		o.TCBStatus = "UpToDate"
	}
	if o.Issued.IsZero() {
		o.Issued = r.notBefore
	}
	if o.NextUpdate.IsZero() {
		o.NextUpdate = r.notAfter
	}
	issued, next := o.Issued.UTC().Format(time.RFC3339), o.NextUpdate.UTC().Format(time.RFC3339)

	var tcbBody struct {
		TcbInfo map[string]any `json:"tcbInfo"`
	}
	if err := json.Unmarshal(testdata.TcbInfoBody, &tcbBody); err != nil {
		return nil, fmt.Errorf("parse sample tcb info: %w", err)
	}
	ti := tcbBody.TcbInfo
	zeros := func() []map[string]int {
		c := make([]map[string]int, 16)
		for i := range c {
			c[i] = map[string]int{"svn": 0}
		}
		return c
	}
	ti["issueDate"], ti["nextUpdate"] = issued, next
	ti["tcbLevels"] = []map[string]any{{
		"tcb":       map[string]any{"sgxtcbcomponents": zeros(), "pcesvn": 0, "tdxtcbcomponents": zeros()},
		"tcbDate":   issued,
		"tcbStatus": o.TCBStatus,
	}}
	// A module identity for TDX module major versions 1-3, which quotes
	// with TEE_TCB_SVN[1] > 0 are checked against.
	var mods []map[string]any
	for v := 1; v <= 3; v++ {
		mods = append(mods, map[string]any{
			"id": fmt.Sprintf("TDX_%02x", v), "mrsigner": strings.Repeat("0", 96),
			"attributes": "0000000000000000", "attributesMask": "FFFFFFFFFFFFFFFF",
			"tcbLevels": []map[string]any{{"tcb": map[string]int{"isvsvn": 0}, "tcbDate": issued, "tcbStatus": o.TCBStatus}},
		})
	}
	ti["tdxModuleIdentities"] = mods
	fmspc, _ := ti["fmspc"].(string)

	var qeBody struct {
		EnclaveIdentity map[string]any `json:"enclaveIdentity"`
	}
	if err := json.Unmarshal(testdata.QeIdentityBody, &qeBody); err != nil {
		return nil, fmt.Errorf("parse sample qe identity: %w", err)
	}
	qi := qeBody.EnclaveIdentity
	qi["issueDate"], qi["nextUpdate"] = issued, next
	qi["tcbLevels"] = []map[string]any{{"tcb": map[string]int{"isvsvn": 0}, "tcbDate": issued, "tcbStatus": "UpToDate"}}

	tcbResp, err := r.signedJSON("tcbInfo", ti)
	if err != nil {
		return nil, err
	}
	qeResp, err := r.signedJSON("enclaveIdentity", qi)
	if err != nil {
		return nil, err
	}
	var pckRevoked, rootRevoked []x509.RevocationListEntry
	if o.RevokePCK {
		pckRevoked = append(pckRevoked, x509.RevocationListEntry{SerialNumber: r.PCK.SerialNumber, RevocationTime: o.Issued})
	}
	if o.RevokeIntermediate {
		rootRevoked = append(rootRevoked, x509.RevocationListEntry{SerialNumber: r.Intermediate.SerialNumber, RevocationTime: o.Issued})
	}
	pckCRL, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: o.Issued, NextUpdate: o.NextUpdate,
		RevokedCertificateEntries: pckRevoked}, r.Intermediate, r.interKey)
	if err != nil {
		return nil, fmt.Errorf("sign fake pck crl: %w", err)
	}
	rootCRL, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: o.Issued, NextUpdate: o.NextUpdate,
		RevokedCertificateEntries: rootRevoked}, r.Root, r.rootKey)
	if err != nil {
		return nil, fmt.Errorf("sign fake root crl: %w", err)
	}
	chain := func(signer []byte) []string {
		return []string{url.QueryEscape(string(append(append([]byte(nil), signer...), r.rootPEM...)))}
	}
	return MapGetter{
		pcs.TcbInfoURL(fmspc):     {Header: map[string][]string{"Tcb-Info-Issuer-Chain": chain(r.tcbPEM)}, Body: tcbResp},
		pcs.QeIdentityURL():       {Header: map[string][]string{"Sgx-Enclave-Identity-Issuer-Chain": chain(r.tcbPEM)}, Body: qeResp},
		pcs.PckCrlURL("platform"): {Header: map[string][]string{"Sgx-Pck-Crl-Issuer-Chain": chain(r.interPEM)}, Body: pckCRL},
		TDXRootCRLURL:             {Body: rootCRL},
	}, nil
}

// signedJSON renders {"<field>": v, "signature": hex(r||s)} with the
// signature over the exact bytes of v, as Intel PCS does.
func (r *TDXRoot) signedJSON(field string, v any) ([]byte, error) {
	inner, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	sig, err := rawSign(r.tcbKey, inner)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"%s":%s,"signature":"%s"}`, field, inner, hex.EncodeToString(sig))
	return b.Bytes(), nil
}
