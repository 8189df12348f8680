package attest

import (
	"crypto/sha512"
	"encoding/binary"
	"hash"
)

// Domain tags of the report-data bindings. Each use of a quote has its own
// tag so that evidence made for one purpose never passes for another.
const (
	sessionTag = "agentnet/session/v1"
	resultTag  = "agentnet/result/v1"
	cardTag    = "agentnet/card/v1"
)

// SessionReportData binds a session's evidence to the node's identity key,
// the fresh session key, the client's key and the client's nonce
// (DESIGN.md 2.1). A client recomputes it and never parses it.
func SessionReportData(identityPub, sessionPub, clientPub, nonce []byte) ReportData {
	h := sha512.New()
	h.Write([]byte(sessionTag))
	writeLP(h, identityPub)
	writeLP(h, sessionPub)
	writeLP(h, clientPub)
	writeLP(h, nonce)
	return sum(h)
}

// ResultReportData binds per-result evidence to a result's commitment.
func ResultReportData(commitment []byte) ReportData {
	h := sha512.New()
	h.Write([]byte(resultTag))
	h.Write(commitment)
	return sum(h)
}

// CardReportData binds an agent card's evidence to the node's identity key
// for one epoch. Freshness comes from the session binding when a client
// connects; the epoch only bounds how old a card's evidence can be.
func CardReportData(identityPub []byte, epoch uint64) ReportData {
	h := sha512.New()
	h.Write([]byte(cardTag))
	writeLP(h, identityPub)
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], epoch)
	writeLP(h, e[:])
	return sum(h)
}

// writeLP writes b with a 4-byte big-endian length prefix.
func writeLP(h hash.Hash, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	h.Write(n[:])
	h.Write(b)
}

func sum(h hash.Hash) ReportData {
	var r ReportData
	h.Sum(r[:0])
	return r
}
