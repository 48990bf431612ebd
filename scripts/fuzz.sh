#!/usr/bin/env bash
# Fuzzing (docs/fuzzing.md).
#   scripts/fuzz.sh TARGET [SECONDS] [libFuzzer args…]   one target (default 60 s)
#   scripts/fuzz.sh TARGET 0 FILE                         replay one input (a crash) once
#   scripts/fuzz.sh differential [SECONDS]                Veil vs cosmwasm-vm (own workspace)
#   scripts/fuzz.sh --list                                the targets
#   scripts/fuzz.sh --smoke [SECONDS]                     CI: every target SECONDS each (default 10)
# Builds: release with debug assertions (overflow checks) and AddressSanitizer, one build
# for all targets. The smoke (CI) builds every target once, unoptimized (debug
# assertions and overflow checks on) and without a sanitizer, in its own target
# directory: a fraction of the instrumented release build's time (docs/fuzzing.md, "In
# CI"). The differential target builds without a sanitizer (wasmer under ASan takes too
# long).
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
    local inputs=("$corpus")
    if [ $# -gt 0 ] && [ -f "$1" ]; then
        # Replay: libFuzzer runs input files once, and only when no directory is given.
        inputs=("$(realpath "$1")"); shift
    fi
    # Compiling a large real contract (cw721-base, 870 KB) under ASan takes seconds.
    local timeout="$TIMEOUT_SECS"
    case "$target" in wasm_validate | differential) timeout=$((TIMEOUT_SECS * 6)) ;; esac
    if [ -d "${inputs[0]}" ]; then
        [ -d "fuzz/seeds/$target" ] && inputs+=("$PWD/fuzz/seeds/$target")
        [ -d "$target_dir/fuzz-seeds/$target" ] && inputs+=("$target_dir/fuzz-seeds/$target")
    fi
    (cd "$dir" && CARGO_TARGET_DIR="$build_dir" cargo fuzz run --fuzz-dir . "${flags[@]}" \
        "$target" "${inputs[@]}" -- \
        -artifact_prefix="$artifacts/" -rss_limit_mb="$RSS_LIMIT_MB" -timeout="$timeout" \
        -max_total_time="$seconds" -print_final_stats=1 "$@")
}

FULL=(-O -a)
SMOKE=(--dev -a -s none)
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
            echo "fuzz smoke: $target (${seconds}s)" >&2
            log="$target_dir/fuzz-artifacts/$target.smoke.log"
            mkdir -p "$target_dir/fuzz-artifacts"
            if ! run_target fuzz "$smoke_dir" "$target" "$seconds" "${SMOKE[@]}" > "$log" 2>&1; then
                # The panic (or libFuzzer's verdict) first: the backtrace after it is long.
                grep -m 3 -A 2 -E 'panicked at|^==[0-9]+== ERROR' "$log" >&2 || true
                tail -n 30 "$log" >&2
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
    "" | -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *)
        ./scripts/fuzz-corpus.sh
        run_target fuzz "$target_dir" "$1" "${2:-60}" "${FULL[@]}" -- "${@:3}" ;;
esac
