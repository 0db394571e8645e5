#!/usr/bin/env bash
# Runs examples/python_client.py and examples/python_sessions.py (official Python
# MCP SDK, pinned in examples/requirements.txt) against `browserfarm mcp --http`
# and pages served on 127.0.0.1, and checks what they printed and saved; the
# session flow runs in the SDK's default mode (2026-07-28, no protocol session)
# and in its legacy mode (2025-11-25 handshake). Usage:
#   scripts/python-example.sh [path/to/browserfarm]
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/browserfarm}
[ -x "$BIN" ] || cargo build --locked -p browserfarm
WORK=$(mktemp -d)
VENV=${BROWSERFARM_PY_VENV:-${TMPDIR:-/tmp}/browserfarm-example-venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r examples/requirements.txt

# shellcheck source=scripts/example-site.sh
. scripts/example-site.sh
PAGE_PORT=$(free_port)
MCP_PORT=$(free_port)
write_example_site "$WORK/site"
python3 -m http.server "$PAGE_PORT" --bind 127.0.0.1 --directory "$WORK/site" >/dev/null 2>&1 &
PAGES=$!
"$BIN" mcp --http "127.0.0.1:$MCP_PORT" --min-browsers 0 --tools all 2>"$WORK/server.log" &
SERVER=$!
trap 'kill $PAGES 2>/dev/null; kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
wait_for_ports "$PAGE_PORT" "$MCP_PORT"

OUT=$(cd "$WORK" && "$VENV/bin/python" "$OLDPWD/examples/python_client.py" \
    "http://127.0.0.1:$MCP_PORT/mcp" "http://127.0.0.1:$PAGE_PORT/article.html" 2>&1)
echo "$OUT"
grep -q "saved screenshot.png" <<<"$OUT"
grep -q "# Browsers on small farms" <<<"$OUT"
if grep -qi "failed" <<<"$OUT"; then echo "python example: a call failed" >&2; exit 1; fi
head -c 8 "$WORK/screenshot.png" | od -An -tx1 | grep -q "89 50 4e 47" || {
    echo "python example: screenshot.png is not a PNG" >&2
    exit 1
}
for mode in "" --legacy; do
    FLOW=$("$VENV/bin/python" examples/python_sessions.py $mode \
        "http://127.0.0.1:$MCP_PORT/mcp" "http://127.0.0.1:$PAGE_PORT/form.html")
    echo "$FLOW"
    grep -q "^structured: page status 200, 1 tab" <<<"$FLOW"
    grep -q "^structured: 1 cookie, batch 2 ok, 1 node, downloads enabled: False" <<<"$FLOW"
done
echo "python example: ok"
