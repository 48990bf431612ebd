#!/usr/bin/env bash
# Every test. Contracts used by tests are built from source (cached under
# target/veil-contracts); the Debian Wasm toolchain is installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
# crates/trusted/attestation is a workspace of its own for now (its README says why).
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" \
    cargo test --manifest-path crates/trusted/attestation/Cargo.toml --locked
