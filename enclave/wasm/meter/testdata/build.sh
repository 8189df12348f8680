#!/bin/sh
# Rebuilds the committed test modules. Needs wabt's wat2wasm (apt-get install wabt) and
# Go; run from this directory (go generate ./enclave/wasm/meter/ does).
set -eu
for wat in *.wat; do
	wat2wasm --debug-names "$wat" -o "${wat%.wat}.wasm"
done
# Go guests, stripped: a command and a reactor (its exports serve many calls).
GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags="-s -w" -o goguest.wasm ./goguest
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o gobench.wasm ./gobench
