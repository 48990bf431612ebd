#!/usr/bin/env bash
# Main job: build the sample counter contract from source and run it with `veil vm run`.
# Installs what is missing (Debian's rustc-web, rust-web-src, lld-22) on the way.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "veil: building the veil CLI (release) ..."
cargo build --release --locked -q -p veil-cli
veil=target/release/veil

wasm=$("$veil" contract build contracts/counter)
state=target/demo/counter-state.json
mkdir -p "$(dirname "$state")"
rm -f "$state"

echo "veil: instantiate"
"$veil" vm run --wasm "$wasm" --entry instantiate --msg '{"count":41}' --state "$state"
echo "veil: execute increment (and 1000 timed replays)"
"$veil" vm run --wasm "$wasm" --entry execute --msg '{"increment":{}}' --state "$state" --repeat 1000
echo "veil: query get_count"
"$veil" vm run --wasm "$wasm" --entry query --msg '{"get_count":{}}' --state "$state"
