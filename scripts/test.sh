#!/usr/bin/env bash
# Every test. Contracts used by tests are built from source (cached under
# target/veil-contracts); the Debian Wasm toolchain is installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
# The conformance tools are a workspace of their own (crates/tools/conformance/README.md
# says why); they share the target directory.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" \
    cargo test --manifest-path crates/tools/conformance/Cargo.toml --locked "$@"
