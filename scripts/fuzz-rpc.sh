#!/usr/bin/env bash
# Fuzzes a fresh `veil dev` node's RPC against docs/openapi.yaml with schemathesis (from
# PyPI): no request may get a server error, and every answer must match the schema.
# Usage: ./scripts/fuzz-rpc.sh [max examples per operation, default 150]
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-150}"

if ! command -v st > /dev/null; then
    echo "veil: installing schemathesis (PyPI) ..." >&2
    python3 -m pip install --quiet --user "schemathesis==4.32.5"
    export PATH="$HOME/.local/bin:$PATH"
fi
echo "veil: building veil ..." >&2
cargo build --locked -q -p veil-cli

home="$(mktemp -d)"
port=27657
target/debug/veil dev --home "$home" --rpc-addr "127.0.0.1:$port" --block-time 200ms \
    2> "$home/node.log" &
node=$!
trap 'kill $node 2> /dev/null || true; wait $node 2> /dev/null || true; rm -rf "$home"' EXIT
until curl -sf "http://127.0.0.1:$port/status" > /dev/null; do
    kill -0 $node 2> /dev/null || { cat "$home/node.log" >&2; exit 1; }
    sleep 0.2
done

st run docs/openapi.yaml --url "http://127.0.0.1:$port" --max-examples "$examples" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
# The node must have survived all of it.
curl -sf "http://127.0.0.1:$port/status" > /dev/null
echo "veil: the node answered every request without a server error and is still running" >&2
