#!/usr/bin/env bash
# Every test. Contracts used by tests are built from source (cached under
# target/veil-contracts); the Debian Wasm toolchain is installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
