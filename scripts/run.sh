#!/usr/bin/env bash
# Main job: build `veil` (release) and start the single-node confidential dev chain.
# Arguments are passed to `veil dev` (e.g. --home DIR, --reset, --block-time 200ms).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "veil: building veil and veil-enclave (release) ..." >&2
cargo build --release --locked -q -p veil-cli -p veil-enclave
exec target/release/veil dev "$@"
