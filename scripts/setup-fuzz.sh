#!/usr/bin/env bash
# Installs cargo-fuzz (libFuzzer driver) from crates.io if missing. It builds on the
# stable toolchain; the fuzz builds themselves need RUSTC_BOOTSTRAP=1 (scripts/fuzz.sh).
set -euo pipefail
CARGO_FUZZ_VERSION=0.13.2
if cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    exit 0
fi
echo "setup-fuzz: cargo install cargo-fuzz $CARGO_FUZZ_VERSION" >&2
cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION"
