#!/usr/bin/env bash
# Runs the official MCP conformance suite (server mode) against
# `browserfarm mcp --http` on a loopback port, with conformance/expected-failures.yml
# as the baseline. Needs Node.js 22+; when the system's is older or missing, Node 22
# is taken from the npm registry's `node` package (needs npm). Usage:
#   scripts/conformance.sh [path/to/browserfarm]
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE_VERSION=0.1.16
BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/browserfarm}
if [ ! -x "$BIN" ]; then
    cargo build --locked -p browserfarm
fi

node_major() { "$1" -e 'console.log(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }
NODE_BIN=""
if command -v node >/dev/null && [ "$(node_major node)" -ge 22 ]; then
    NODE_BIN=$(dirname "$(command -v node)")
else
    NODE_DIR=${BROWSERFARM_NODE_DIR:-${TMPDIR:-/tmp}/browserfarm-node22}
    if [ ! -x "$NODE_DIR/node_modules/.bin/node" ]; then
        echo "conformance: fetching Node 22 from the npm registry into $NODE_DIR" >&2
        mkdir -p "$NODE_DIR"
        npm install --silent --prefix "$NODE_DIR" node@22 >&2
    fi
    NODE_BIN="$NODE_DIR/node_modules/.bin"
fi
export PATH="$NODE_BIN:$PATH"
echo "conformance: node $(node --version)" >&2

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" mcp --http "127.0.0.1:$PORT" --min-browsers 0 2>"${TMPDIR:-/tmp}/browserfarm-conformance.log" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    if (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
done

npx --yes "@modelcontextprotocol/conformance@$SUITE_VERSION" server \
    --url "http://127.0.0.1:$PORT/mcp" \
    --expected-failures conformance/expected-failures.yml
