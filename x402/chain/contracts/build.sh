#!/usr/bin/env bash
# Recompiles the dev chain's test token and regenerates its Go bindings.
# Needs node and npm (the compiler is the pinned npm package solc) and Go.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node compile.js
cd ../token
go run github.com/ethereum/go-ethereum/cmd/abigen@v1.17.10 --v2 \
	--abi TestToken.abi --bin TestToken.bin --pkg token --type TestToken --out bindings.go
gofmt -w bindings.go
