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
# The TypeScript client (unit, docs/protocol.md vectors, end to end against `veil dev`)
# and the example dApp in headless Chromium; both run the `veil` built above.
# (`cargo test --workspace` built it; this selection resolves features the same way.)
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" cargo build --workspace --bins --tests --locked --quiet
export VEIL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/veil"
./scripts/setup-node.sh
./scripts/setup-browser.sh
(cd clients/ts && npm test --silent)
(cd examples/cw20-dapp && npm test --silent)
# Fuzz smoke (docs/fuzzing.md, "In CI"): every fuzz target for a few seconds on its
# seeds, so a decoder that starts to panic fails. VEIL_FUZZ_SMOKE_SECS sets the seconds
# per target (0 skips it). Longer runs: scripts/fuzz.sh TARGET SECONDS.
fuzz_smoke_secs="${VEIL_FUZZ_SMOKE_SECS:-10}"
if [ "$fuzz_smoke_secs" != 0 ]; then
    ./scripts/fuzz.sh --smoke "$fuzz_smoke_secs"
fi
