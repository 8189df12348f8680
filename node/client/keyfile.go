package client

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/agentnet/agentnode/x402"
	"github.com/agentnet/agentnode/x402/evm"
)

// MaxKeyFileSize caps a key file or a dev.json.
const MaxKeyFileSize = 64 << 10

// DevInfo is dev.json, which `agentnode dev` writes in its data dir: what
// a client needs to pay the development node. PayerKey is a throwaway key
// of a throwaway chain.
type DevInfo struct {
	RPCURL       string `json:"rpc_url"`
	ChainID      uint64 `json:"chain_id"`
	Network      string `json:"network"`
	Token        string `json:"token"`
	TokenName    string `json:"token_name"`
	TokenVersion string `json:"token_version"`
	PayTo        string `json:"pay_to"`
	PayerKey     string `json:"payer_key"`
	BridgeURL    string `json:"bridge_url"`
}

// Asset returns the dev chain's token.
func (d *DevInfo) Asset() (evm.Asset, error) {
	n, err := x402.ParseNetwork(d.Network)
	if err != nil {
		return evm.Asset{}, fmt.Errorf("dev.json network: %w", err)
	}
	if !common.IsHexAddress(d.Token) {
		return evm.Asset{}, fmt.Errorf("dev.json token %q: not an address", d.Token)
	}
	return evm.Asset{Network: n, Address: common.HexToAddress(d.Token), Name: d.TokenName, Version: d.TokenVersion}, nil
}

// ReadKeyFile reads a secp256k1 payment key: a file holding the key in
// hex (with or without 0x, surrounding space ignored), or a dev.json, whose
// payer_key it takes (and then returns the DevInfo too). A key file other
// users may read or write is refused, as ssh refuses such keys.
func ReadKeyFile(path string) (*ecdsa.PrivateKey, *DevInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("read key file: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, nil, fmt.Errorf("read key file %s: mode %#o lets other users read it; chmod 600 %[1]s", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read key file: %w", err)
	}
	if len(b) > MaxKeyFileSize {
		return nil, nil, fmt.Errorf("read key file %s: over %d bytes", path, MaxKeyFileSize)
	}
	key, dev, err := ParseKeyFile(b)
	if err != nil {
		return nil, nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	return key, dev, nil
}

// ParseKeyFile parses the content of a key file (see ReadKeyFile).
func ParseKeyFile(b []byte) (*ecdsa.PrivateKey, *DevInfo, error) {
	if len(b) > MaxKeyFileSize {
		return nil, nil, fmt.Errorf("parse key: over %d bytes", MaxKeyFileSize)
	}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var d DevInfo
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, nil, fmt.Errorf("parse dev.json: %w", err)
		}
		if d.PayerKey == "" {
			return nil, nil, errors.New("parse dev.json: no payer_key")
		}
		key, err := ParseKey(d.PayerKey)
		if err != nil {
			return nil, nil, fmt.Errorf("parse dev.json payer_key: %w", err)
		}
		return key, &d, nil
	}
	key, err := ParseKey(string(b))
	return key, nil, err
}

// ParseKey parses a hex secp256k1 private key, with or without 0x.
func ParseKey(s string) (*ecdsa.PrivateKey, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "0x")
	if len(s) != 64 {
		return nil, fmt.Errorf("parse key: want 64 hex digits (32 bytes), got %d characters", len(s))
	}
	key, err := crypto.HexToECDSA(s)
	if err != nil {
		// The error of HexToECDSA may quote the input: never echo a key.
		return nil, errors.New("parse key: not a valid hex secp256k1 private key")
	}
	return key, nil
}

// LoadOrCreateKeyFile reads a hex secp256k1 key file as ReadKeyFile does,
// or, when there is none, creates it (mode 0600) with a fresh key: the gas
// and payer keys a dev node or a testnet keeps across runs.
func LoadOrCreateKeyFile(path string) (*ecdsa.PrivateKey, error) {
	key, _, err := ReadKeyFile(path)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if key, err = crypto.GenerateKey(); err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	if err := os.WriteFile(path, []byte("0x"+hex.EncodeToString(crypto.FromECDSA(key))+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	return key, nil
}
