#!/bin/sh
# build.sh rebuilds every testdata/*.wasm from its .wat source with wabt's wat2wasm
# (Debian: apt-get install -y wabt). Run it after editing a .wat file and commit the .wat
# and .wasm together; `go generate ./enclave/wasm/wasmtest` runs it as well.
set -eu
cd "$(dirname "$0")/testdata"
for wat in *.wat; do
	wat2wasm -o "${wat%.wat}.wasm" "$wat"
done
