#!/usr/bin/env bash
# Drives browserfarm through the MCP clients of four agent frameworks (FastMCP,
# the OpenAI Agents SDK, Pydantic AI, LangChain's langchain-mcp-adapters), with
# no model: examples/frameworks/drive.py calls each framework's own tool objects
# as its agent loop would and checks what the framework hands the model (the
# form flow through a session handle, a scraped article, the error for a refused
# URL). Every framework runs over stdio (the client starts the server) and over
# streamable HTTP (one `browserfarm mcp --http` here), against pages served on
# 127.0.0.1. Versions are pinned in examples/frameworks/requirements*.txt;
# langchain-mcp-adapters needs the MCP SDK 1.x, so it has a venv of its own.
# Usage:
#   scripts/frameworks.sh [path/to/browserfarm]
# Exits non-zero if a row fails, except `langchain-default stdio`: that client
# starts a new server process for every call, which cannot keep a browser
# session, so its failure is reported as `expected-fail`.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/browserfarm}
[ -x "$BIN" ] || cargo build --locked -p browserfarm
BIN=$(realpath "$BIN")
VENV=${BROWSERFARM_FRAMEWORKS_VENV:-${TMPDIR:-/tmp}/browserfarm-frameworks-venv}
LC_VENV="$VENV-langchain"
for pair in "$VENV:examples/frameworks/requirements.txt" "$LC_VENV:examples/frameworks/requirements-langchain.txt"; do
    venv=${pair%%:*}
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "${pair#*:}"
done

WORK=$(mktemp -d)
# shellcheck source=scripts/example-site.sh
. scripts/example-site.sh
PAGE_PORT=$(free_port)
MCP_PORT=$(free_port)
write_example_site "$WORK/site"

PAGES=""
SERVER=""
ROW=""
# Ends a process group, politely first (a stdio server closes its browsers on
# the way out), then for good.
end_group() {
    local pgid=$1
    pgrep -g "$pgid" >/dev/null 2>&1 || return 0
    for _ in $(seq 30); do pgrep -g "$pgid" >/dev/null 2>&1 || return 0; sleep 0.1; done
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 50); do pgrep -g "$pgid" >/dev/null 2>&1 || return 0; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
}
cleanup() {
    [ -n "$ROW" ] && end_group "$ROW"
    [ -n "$PAGES" ] && kill "$PAGES" 2>/dev/null
    if [ -n "$SERVER" ]; then
        kill -TERM "$SERVER" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
        end_group "$SERVER"
        wait "$SERVER" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

python3 -m http.server "$PAGE_PORT" --bind 127.0.0.1 --directory "$WORK/site" >/dev/null 2>&1 &
PAGES=$!
# In a process group of its own (setsid), so that cleanup reaches its browsers.
setsid "$BIN" mcp --http "127.0.0.1:$MCP_PORT" --min-browsers 0 2>"$WORK/server.log" &
SERVER=$!
wait_for_ports "$PAGE_PORT" "$MCP_PORT"

PAGE="http://127.0.0.1:$PAGE_PORT"
failed=0
for framework in fastmcp openai-agents pydantic-ai langchain langchain-default; do
    py="$VENV/bin/python"
    case $framework in langchain*) py="$LC_VENV/bin/python" ;; esac
    for transport in stdio http; do
        # `timeout` runs the row in a process group of its own: the stdio
        # servers the client starts and their browsers are in it too.
        timeout -k 5 170 "$py" examples/frameworks/drive.py --binary "$BIN" \
            --url "http://127.0.0.1:$MCP_PORT/mcp" --form "$PAGE/form.html" \
            --article "$PAGE/article.html" --record "$WORK/views.jsonl" \
            "$framework" "$transport" >"$WORK/row.out" 2>"$WORK/row.err" &
        ROW=$!
        rc=0
        wait "$ROW" || rc=$?
        end_group "$ROW"
        ROW=""
        line=$(grep -E '^(ok|FAIL) ' "$WORK/row.out" | tail -n 1 || true)
        if [ -z "$line" ]; then
            line="FAIL $framework $transport: run: exit $rc: $(tail -n 3 "$WORK/row.err" | tr '\n' ' ' | cut -c1-300)"
        fi
        if [ "$framework $transport" = "langchain-default stdio" ] && [ "${line%% *}" = FAIL ]; then
            line="expected-fail ${line#FAIL }"
        elif [ "${line%% *}" = FAIL ]; then
            failed=1
        fi
        echo "$line"
    done
done

if [ -s "$WORK/views.jsonl" ]; then
    "$VENV/bin/python" examples/frameworks/drive.py --summary "$WORK/views.jsonl"
fi
if [ "$failed" != 0 ]; then
    echo "frameworks: some rows failed" >&2
    exit 1
fi
echo "frameworks: ok"
