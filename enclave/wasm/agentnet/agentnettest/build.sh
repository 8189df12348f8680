#!/bin/sh
# build.sh rebuilds testdata/*.wasm from the .wat sources beside them with wabt's
# wat2wasm (Debian: apt-get install -y wabt). Commit the .wat and .wasm together;
# `go generate ./enclave/wasm/agentnet` runs it as well, and the package's tests check
# that the committed modules match their sources when wat2wasm is installed.
set -eu
cd "$(dirname "$0")/testdata"
for wat in *.wat; do
	wat2wasm -o "${wat%.wat}.wasm" "$wat"
done
