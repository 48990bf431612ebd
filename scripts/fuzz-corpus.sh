#!/usr/bin/env bash
# Seeds for the fuzz targets that are made rather than committed: the Wasm contracts the
# project's tooling built (the tests build them into target/veil-contracts), for
# wasm_validate and the differential target. Never committed (.wasm files are not).
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
cache="${VEIL_CONTRACT_CACHE:-$target_dir/veil-contracts}"
for target in wasm_validate differential; do
    out="$target_dir/fuzz-seeds/$target"
    mkdir -p "$out"
    if [ -d "$cache" ]; then
        find "$cache" -name '*.wasm' -path '*artifacts*' -size -3M -print0 |
            while IFS= read -r -d '' wasm; do
                cp "$wasm" "$out/$(sha256sum "$wasm" | cut -c1-16).wasm"
            done
    fi
done
