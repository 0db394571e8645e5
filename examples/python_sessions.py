"""A multi-step flow in one browser session through its `session` handle, with
the official Python MCP SDK, in its default mode (protocol 2026-07-28: no
protocol session, every request stands alone) or with --legacy (the 2025-11-25
initialize handshake, whose connection has a browser session of its own).

    pip install -r examples/requirements.txt
    browserfarm mcp --http 127.0.0.1:8931 &
    python3 examples/python_sessions.py http://127.0.0.1:8931/mcp http://127.0.0.1:8000/form.html

The page needs an input `#name` and a button `#go` whose click writes
"Hi <name>" into the title (scripts/python-example.sh serves one; the flow uses
tools of the state, files and farm groups, so start the server with
`--tools all`). Every tool result that ran in a browser session carries the
handle in its `_meta["browserfarm/session"]` (and, when the model must pass it
back, as a last text line `session: <handle>`); passing it as the `session`
argument continues in the same browser, and `"new"` opens another one.
Set BROWSERFARM_TOKEN when the server was started with --token.
"""

import asyncio
import os
import sys

from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def handle_of(result) -> str:
    """The session handle a result names (its `_meta`, where programs read it)."""
    return (result.meta or {})["browserfarm/session"]


def check(result, what: str):
    if result.is_error:
        raise SystemExit(f"{what} failed: {text(result)}")
    return result


async def flow(client: Client, page: str) -> None:
    opened = check(await client.call_tool("navigate", {"url": page, "session": "new"}), "navigate")
    session = handle_of(opened)
    if opened.structured_content is not None:
        raise SystemExit(f"navigate's page text came with structured content: {opened.structured_content}")
    print(f"navigate: {text(opened).splitlines()[0]}")
    check(await client.call_tool("type", {"selector": "#name", "text": "Ada", "session": session}), "type")
    clicked = check(await client.call_tool("click", {"selector": "#go", "session": session}), "click")
    print(f"click: {text(clicked).splitlines()[0]}")
    # Results that are records carry them as data too, checked by the SDK
    # against the tool's output schema.
    tabs = check(await client.call_tool("tabs", {"session": session}), "tabs").structured_content
    log = check(await client.call_tool("network_requests", {"session": session}), "network_requests")
    if [t["url"] for t in tabs["tabs"]] != [page]:
        raise SystemExit(f"structured results disagree with the page: {tabs}")
    loaded = [e for e in log.structured_content["entries"] if e["url"] == page]
    if not loaded:
        raise SystemExit(f"the network log misses the page: {log.structured_content}")
    print(f"structured: page status {loaded[0].get('status')}, {len(tabs['tabs'])} tab")
    seen = check(
        await client.call_tool("evaluate", {"expression": "document.title", "session": session}),
        "evaluate",
    )
    title = text(seen).splitlines()[0]
    print(f"evaluate: {title}")
    if title != '"Hi Ada"':
        raise SystemExit(f"the flow did not stay on one page: title {title}")

    # A second browser session from the same client shares nothing with the first.
    check(
        await client.call_tool("evaluate", {"expression": "document.cookie = 'farm=first'", "session": session}),
        "set cookie",
    )
    jar = check(await client.call_tool("cookies", {"session": session}), "cookies").structured_content
    batch = check(await client.call_tool("batch_scrape", {"urls": [page, page]}), "batch_scrape")
    farm = check(await client.call_tool("farm_status", {}), "farm_status").structured_content
    files = check(await client.call_tool("downloads", {"session": session}), "downloads")
    if [c["name"] for c in jar["cookies"]] != ["farm"] or "2 ok, 0 failed" not in text(batch):
        raise SystemExit(f"results disagree: {jar} {text(batch)[:200]}")
    print(
        f"structured: {len(jar['cookies'])} cookie, batch 2 ok, "
        f"{len(farm['nodes'])} node, downloads enabled: {files.structured_content['enabled']}"
    )
    other = check(await client.call_tool("navigate", {"url": page, "session": "new"}), "second navigate")
    second = handle_of(other)
    cookies = check(
        await client.call_tool("evaluate", {"expression": "document.cookie", "session": second}),
        "read cookie",
    )
    if text(cookies).splitlines()[0] != '""' or second == session:
        raise SystemExit(f"two sessions share cookies: {text(cookies)}")
    print("second session: isolated (no cookies)")

    forged = session[:-1] + ("A" if session[-1] != "A" else "B")
    refused = await client.call_tool("evaluate", {"expression": "1", "session": forged})
    if not refused.is_error or "unknown or expired" not in text(refused):
        raise SystemExit(f"a forged handle was not refused: {text(refused)}")
    print("forged handle: refused")
    for handle in (session, second):
        check(await client.call_tool("close_session", {"session": handle}), "close_session")


async def main(server: str, page: str, mode: str) -> int:
    token = os.environ.get("BROWSERFARM_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with create_mcp_http_client(headers=headers) as http:
        async with Client(streamable_http_client(server, http_client=http), mode=mode) as client:
            await flow(client, page)
    print(f"python sessions ({mode}): ok")
    return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--legacy"]
    if len(args) != 2:
        sys.exit(f"usage: {sys.argv[0]} [--legacy] SERVER_URL PAGE_URL")
    sys.exit(asyncio.run(main(args[0], args[1], "legacy" if "--legacy" in sys.argv else "auto")))
