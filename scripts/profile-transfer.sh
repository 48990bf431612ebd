#!/usr/bin/env bash
# Instruction counts of one cw20-base transfer (callgrind: they do not drift with machine
# load), on Veil's engine alone and through the enclave in blocks as a node runs them.
#   scripts/profile-transfer.sh            both modes, per-transfer counts + top functions
# Each mode runs twice (N1 and N2 transfers); (count(N2) - count(N1)) / (N2 - N1) is one
# transfer without the setup. The callgrind files stay in target/profile/ for
# `callgrind_annotate --inclusive=yes FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
    echo "installing valgrind (apt)" >&2
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get install -y --no-install-recommends valgrind >&2
fi
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
out="$target_dir/profile"
mkdir -p "$out"
echo "building the transfer_instructions example (release)" >&2
CARGO_TARGET_DIR="$target_dir" cargo build --release --locked --quiet \
    --manifest-path crates/tools/conformance/Cargo.toml --example transfer_instructions
bin="$target_dir/release/examples/transfer_instructions"

# count MODE N: total instructions (Ir) of the measured function of one run.
count() {
    local mode="$1" n="$2" file="$out/callgrind.$1.$2"
    local measured
    case "$mode" in
        engine) measured=run_engine ;;
        store) measured=store_fresh ;;
        confidential) measured=run_blocks ;;
    esac
    valgrind --tool=callgrind --callgrind-out-file="$file" --toggle-collect="*${measured}*" \
        "$bin" "$mode" "$n" >/dev/null 2>"$file.log"
    callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

for mode in store engine confidential; do
    n1=100
    n2=300
    [ "$mode" = store ] && { n1=2; n2=4; }
    echo "callgrind: $mode, $n1 and $n2 transfers" >&2
    c1=$(count "$mode" "$n1")
    c2=$(count "$mode" "$n2")
    per=$(((c2 - c1) / (n2 - n1)))
    what="per transfer"
    [ "$mode" = store ] && what="per store_code of cw20-base"
    printf '%-13s %12d instructions %s\n' "$mode" "$per" "$what"
    echo "  top functions by inclusive count ($n2 transfers): $out/callgrind.$mode.$n2" >&2
    callgrind_annotate --inclusive=yes "$out/callgrind.$mode.$n2" 2>/dev/null \
        | awk '/^Ir/ { on = 1 } on && shown++ < 60' >"$out/top.$mode.txt"
done
echo "top functions: $out/top.{store,engine,confidential}.txt" >&2
