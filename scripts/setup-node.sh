#!/usr/bin/env bash
# `npm ci` for the TypeScript client and the example dApp, from their committed lockfiles;
# skipped (silently) when node_modules already matches the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."
for dir in clients/ts examples/cw20-dapp; do
    stamp="$dir/node_modules/.veil-lockfile-sha256"
    want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        continue
    fi
    echo "setup-node: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error > /dev/null)
    echo "$want" > "$stamp"
done
