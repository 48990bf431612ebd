#!/usr/bin/env bash
# Runs one fuzz target (docs/fuzzing.md): scripts/fuzz.sh TARGET [SECONDS] [libFuzzer args…]
#   scripts/fuzz.sh --list            the targets
#   scripts/fuzz.sh --build           build every target once (ASan, release, debug assertions)
#   scripts/fuzz.sh --smoke [SECONDS] every target for SECONDS each (default 10): CI's smoke
#   scripts/fuzz.sh differential [SECONDS]   the differential target (its own workspace)
# The working corpus grows in target/fuzz-corpus/TARGET; committed seeds in fuzz/seeds/
# and the contracts the tests built (scripts/fuzz-corpus.sh) are read as well. Crashes
# go to target/fuzz-artifacts/TARGET/. One job, one worker: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TARGET_DIR="$target_dir"
# Release with debug assertions (overflow checks on), AddressSanitizer, one build for all.
BUILD_FLAGS=(-O -a)
RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-2048}"
TIMEOUT_SECS="${FUZZ_TIMEOUT_SECS:-10}"

targets() { (cd fuzz && cargo fuzz list); }

run_target() {
    local dir="$1" target="$2" seconds="$3"; shift 3
    local corpus="$target_dir/fuzz-corpus/$target" artifacts="$target_dir/fuzz-artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    local seeds=()
    [ -d "fuzz/seeds/$target" ] && seeds+=("$PWD/fuzz/seeds/$target")
    [ -d "$target_dir/fuzz-seeds/$target" ] && seeds+=("$target_dir/fuzz-seeds/$target")
    local flags=("${BUILD_FLAGS[@]}")
    # wasmer does not build under ASan in reasonable time: the differential target runs
    # without a sanitizer (docs/fuzzing.md).
    [ "$dir" = fuzz/differential ] && flags+=(-s none)
    (cd "$dir" && cargo fuzz run "${flags[@]}" "$target" "$corpus" "${seeds[@]}" -- \
        -artifact_prefix="$artifacts/" -rss_limit_mb="$RSS_LIMIT_MB" -timeout="$TIMEOUT_SECS" \
        -max_total_time="$seconds" -jobs=1 -workers=1 -print_final_stats=1 "$@")
}

./scripts/setup-fuzz.sh
case "${1:-}" in
    --list) targets ;;
    --build) (cd fuzz && cargo fuzz build "${BUILD_FLAGS[@]}") ;;
    --smoke)
        seconds="${2:-10}"
        ./scripts/fuzz-corpus.sh
        (cd fuzz && cargo fuzz build "${BUILD_FLAGS[@]}")
        for target in $(targets); do
            echo "fuzz smoke: $target (${seconds}s)" >&2
            run_target fuzz "$target" "$seconds" 2>&1 | grep -E '^(#[0-9]+.*DONE|==[0-9]+==|SUMMARY|Done)|panicked|ERROR' || true
            [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz smoke: $target FAILED (see above; inputs in $target_dir/fuzz-artifacts/$target)" >&2; exit 1; }
        done
        ;;
    differential)
        run_target fuzz/differential differential "${2:-60}" "${@:3}" ;;
    "" | -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *)
        ./scripts/fuzz-corpus.sh
        run_target fuzz "$1" "${2:-60}" "${@:3}" ;;
esac
