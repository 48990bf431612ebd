#!/usr/bin/env bash
# Fuzzing (docs/fuzzing.md).
#   scripts/fuzz.sh TARGET [SECONDS] [libFuzzer args…]   one target (default 60 s)
#   scripts/fuzz.sh differential [SECONDS]                Veil vs cosmwasm-vm (own workspace)
#   scripts/fuzz.sh --list                                the targets
#   scripts/fuzz.sh --smoke [SECONDS]                     CI: every target SECONDS each (default 10)
# Builds: release with debug assertions (overflow checks) and AddressSanitizer, one build
# for all targets; the smoke leaves out the consensus target (malachite and libp2p) and
# builds with 16 codegen units in its own target directory, to keep CI short; the
# differential target builds without a sanitizer (wasmer under ASan takes too long).
# The working corpus grows in target/fuzz-corpus/TARGET; committed seeds in fuzz/seeds/
# and the contracts the tests built (scripts/fuzz-corpus.sh) are read too. Crashes go to
# target/fuzz-artifacts/TARGET/. One process (libFuzzer's default): the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-2048}"
TIMEOUT_SECS="${FUZZ_TIMEOUT_SECS:-10}"

# run_target DIR BUILD_TARGET_DIR TARGET SECONDS [cargo fuzz flags…] -- [libFuzzer args…]
run_target() {
    local dir="$1" build_dir="$2" target="$3" seconds="$4"; shift 4
    local flags=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    local corpus="$target_dir/fuzz-corpus/$target" artifacts="$target_dir/fuzz-artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    # Compiling a large real contract (cw721-base, 870 KB) under ASan takes seconds.
    local timeout="$TIMEOUT_SECS"
    case "$target" in wasm_validate | differential) timeout=$((TIMEOUT_SECS * 6)) ;; esac
    local seeds=()
    [ -d "fuzz/seeds/$target" ] && seeds+=("$PWD/fuzz/seeds/$target")
    [ -d "$target_dir/fuzz-seeds/$target" ] && seeds+=("$target_dir/fuzz-seeds/$target")
    (cd "$dir" && CARGO_TARGET_DIR="$build_dir" cargo fuzz run --fuzz-dir . "${flags[@]}" \
        "$target" "$corpus" "${seeds[@]}" -- \
        -artifact_prefix="$artifacts/" -rss_limit_mb="$RSS_LIMIT_MB" -timeout="$timeout" \
        -max_total_time="$seconds" -print_final_stats=1 "$@")
}

FULL=(-O -a)
SMOKE=(-O -a --no-default-features --codegen-units 16)
DIFFERENTIAL=(-O -a -s none)

./scripts/setup-fuzz.sh
case "${1:-}" in
    --list) (cd fuzz && cargo fuzz list --fuzz-dir .) ;;
    --smoke)
        seconds="${2:-10}"
        ./scripts/fuzz-corpus.sh
        smoke_dir="$target_dir/fuzz-smoke"
        (cd fuzz && CARGO_TARGET_DIR="$smoke_dir" cargo fuzz build --fuzz-dir . "${SMOKE[@]}")
        for target in $(cd fuzz && cargo fuzz list --fuzz-dir .); do
            [ -x "$smoke_dir/x86_64-unknown-linux-gnu/release/$target" ] || continue
            echo "fuzz smoke: $target (${seconds}s)" >&2
            log="$target_dir/fuzz-artifacts/$target.smoke.log"
            mkdir -p "$target_dir/fuzz-artifacts"
            if ! run_target fuzz "$smoke_dir" "$target" "$seconds" "${SMOKE[@]}" > "$log" 2>&1; then
                tail -n 60 "$log" >&2
                echo "fuzz smoke: $target FAILED (log $log, input in $target_dir/fuzz-artifacts/$target/)" >&2
                exit 1
            fi
            grep -E '^stat::number_of_executed_units' "$log" >&2 || true
        done
        ;;
    differential)
        ./scripts/fuzz-corpus.sh
        run_target fuzz/differential "$target_dir/differential" differential "${2:-60}" \
            "${DIFFERENTIAL[@]}" -- "${@:3}" ;;
    "" | -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *)
        ./scripts/fuzz-corpus.sh
        run_target fuzz "$target_dir" "$1" "${2:-60}" "${FULL[@]}" -- "${@:3}" ;;
esac
