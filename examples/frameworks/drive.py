"""Drives browserfarm through one agent framework's MCP client with no model:
this script acts as the model, sees only what the framework would put into the
model's context, and passes back the last `session: <handle>` line it was shown
as the `session` argument of later calls (and no `session` if none was shown).

    python drive.py --binary BIN --url http://127.0.0.1:PORT/mcp \\
        --form http://127.0.0.1:P/form.html --article http://127.0.0.1:P/article.html \\
        [--record views.jsonl] FRAMEWORK TRANSPORT
    python drive.py --summary views.jsonl

FRAMEWORK: fastmcp, openai-agents, pydantic-ai, langchain (a held MCP session:
client.session + load_mcp_tools) or langchain-default (MultiServerMCPClient
.get_tools(): an MCP session per call). TRANSPORT: stdio (the client starts
`BIN mcp --min-browsers 0`) or http (the server at --url). Prints
`ok FRAMEWORK TRANSPORT` or `FAIL FRAMEWORK TRANSPORT: STEP: what the model saw`
and exits 0 or 1. The page at --form has an input #name and a button #go that
sets the title to 'Hi ' + name (scripts/frameworks.sh serves one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from typing import Any

FRAMEWORKS = ("fastmcp", "openai-agents", "pydantic-ai", "langchain", "langchain-default")
TRANSPORTS = ("stdio", "http")
SESSION_LINE = re.compile(r"^session: (\S+)[ \t]*$", re.M)
ARTICLE_TEXT = "A Raspberry Pi can run a headless Chromium"
REFUSED_URL = "file:///etc/passwd"
ROW_TIMEOUT = 150.0


def short(text: str, limit: int = 300) -> str:
    flat = text.replace("\n", "⏎")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def substance(text: str) -> str:
    """The view without its session lines: what the result says."""
    return SESSION_LINE.sub("", text).strip()


def only_session(text: str) -> bool:
    """A view that is just `{"session": ...}`: the model learns nothing."""
    try:
        value = json.loads(substance(text))
    except ValueError:
        return False
    return isinstance(value, dict) and set(value) <= {"session"}


class Model:
    """Knows only the views it was handed."""

    def __init__(self) -> None:
        self.session: str | None = None
        self.lines_seen = 0

    def args(self, schema: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        out = dict(args)
        if self.session is not None and "session" in (schema.get("properties") or {}):
            out["session"] = self.session
        return out

    def read(self, text: str) -> None:
        found = SESSION_LINE.findall(text)
        if found:
            self.session = found[-1]
            self.lines_seen += 1


def undescribed(tools: dict[str, dict[str, Any]]) -> list[str]:
    """Arguments shown to the model without a description."""
    missing = []
    for name, schema in sorted(tools.items()):
        defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
        for key, prop in (schema.get("properties") or {}).items():
            if prop.get("description"):
                continue
            ref = prop.get("$ref") or next((p.get("$ref") for p in prop.get("allOf", []) if "$ref" in p), None)
            if ref and defs.get(ref.rsplit("/", 1)[-1], {}).get("description"):
                continue
            missing.append(f"{name}.{key}")
    return missing


def evaluate_argument(schema: dict[str, Any]) -> str:
    props = [k for k in (schema.get("properties") or {}) if k != "session"]
    required = [k for k in schema.get("required", []) if k in props]
    for known in ("expression", "script", "code", "function", "js"):
        if known in props:
            return known
    return (required or props)[0]


async def flow(framework: str, transport: str, binary: str, url: str, form: str, article: str) -> dict[str, Any]:
    sys.dont_write_bytecode = True  # no __pycache__ beside the example
    from clients import connect

    record: dict[str, Any] = {"framework": framework, "transport": transport, "failures": [], "views": {}}
    model = Model()

    def fail(step: str, seen: str) -> None:
        record["failures"].append([step, seen])

    async with connect(framework, transport, binary, url) as conn:
        record["notes"] = list(conn.notes)
        missing_tools = [t for t in ("navigate", "type", "click", "evaluate", "scrape") if t not in conn.tools]
        if missing_tools:
            fail("tools", f"tools missing from the list: {missing_tools}; listed: {sorted(conn.tools)}")
            return record

        async def step(name: str, tool: str, args: dict[str, Any]) -> Any:
            sent = model.args(conn.tools[tool], args)
            try:
                view = await asyncio.wait_for(conn.call(tool, sent), 60)
            except Exception as e:  # the framework raised instead of handing the model a result
                view_text = f"[raised, nothing for the model] {describe(e)}"
                record["views"][name] = {"text": view_text, "error": True, "aside": {}}
                return None
            record["views"][name] = {
                "text": view.text,
                "error": view.error,
                "aside": {k: short(v if isinstance(v, str) else json.dumps(v, default=str), 120) for k, v in view.hidden.items()},
            }
            model.read(view.text)
            return view

        def check_action(name: str, view: Any, must: str | None = None) -> None:
            if view is None or view.error:
                fail(name, record["views"][name]["text"])
            elif not substance(view.text) or only_session(view.text):
                fail(name, view.text or "(empty)")
            elif must is not None and must not in view.text:
                fail(name, view.text)

        view = await step("navigate", "navigate", {"url": form})
        check_action("navigate", view, "Sign up")
        view = await step("type", "type", {"selector": "#name", "text": "Ada"})
        check_action("type", view)
        view = await step("click", "click", {"selector": "#go"})
        check_action("click", view)
        argument = evaluate_argument(conn.tools["evaluate"])
        view = await step("evaluate", "evaluate", {argument: "document.title"})
        check_action("evaluate", view, "Hi Ada")
        view = await step("scrape", "scrape", {"url": article, "format": "markdown"})
        check_action("scrape", view, ARTICLE_TEXT)
        view = await step("refused", "navigate", {"url": REFUSED_URL})
        seen = record["views"]["refused"]["text"]
        if "not allowed" not in seen or "file" not in seen:
            fail("refused", seen or "(empty)")
        missing = undescribed(conn.tools)
        if missing:
            fail("schema", f"{len(missing)} arguments without a description: {', '.join(missing)}")
        record["session_lines_seen"] = model.lines_seen
    return record


def describe(error: BaseException) -> str:
    """An exception in one line, a task group's by the errors inside it."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in error.exceptions)
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)) and not str(error):
        return "timed out"
    return f"{type(error).__name__}: {error}"


def print_summary(path: str) -> None:
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    print("\nWhat the model saw (scrape | refused URL), per framework and transport:")
    for row in rows:
        views = row.get("views", {})
        label = f"{row['framework']} {row['transport']}"
        notes = "; ".join(row.get("notes", []))
        lines = row.get("session_lines_seen")
        print(f"-- {label}" + (f" [{notes}]" if notes else "") + (f" [session lines seen: {lines}]" if lines is not None else ""))
        for step in ("scrape", "refused"):
            if step in views:
                print(f"   {step}: {short(views[step]['text'])}")
                aside = views[step].get("aside") or {}
                if aside:
                    print(f"   {step}, aside (not in the view): {short(json.dumps(aside, ensure_ascii=False), 300)}")
        if row.get("error"):
            print(f"   error: {short(row['error'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary")
    parser.add_argument("--url", help="the running `browserfarm mcp --http` endpoint, for http")
    parser.add_argument("--form")
    parser.add_argument("--article")
    parser.add_argument("--record", help="append this row's views to this JSON-lines file")
    parser.add_argument("--summary", metavar="FILE", help="print the recorded views and exit")
    parser.add_argument("framework", nargs="?", choices=FRAMEWORKS)
    parser.add_argument("transport", nargs="?", choices=TRANSPORTS)
    opts = parser.parse_args()
    if opts.summary:
        print_summary(opts.summary)
        return 0
    if not (opts.framework and opts.transport and opts.binary and opts.form and opts.article):
        parser.error("FRAMEWORK, TRANSPORT, --binary, --form and --article are needed")
    if opts.transport == "http" and not opts.url:
        parser.error("--url is needed for http")

    label = f"{opts.framework} {opts.transport}"
    try:
        record = asyncio.run(
            asyncio.wait_for(
                flow(opts.framework, opts.transport, opts.binary, opts.url or "", opts.form, opts.article),
                ROW_TIMEOUT,
            )
        )
    except BaseException as e:  # a crash or a hang is a failed row too, said in one line
        if isinstance(e, KeyboardInterrupt):
            raise
        detail = describe(e)
        record = {"framework": opts.framework, "transport": opts.transport, "views": {}, "error": detail,
                  "failures": [["run", detail]]}
    if opts.record:
        with open(opts.record, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, default=str) + "\n")
    if record["failures"]:
        step, seen = record["failures"][0]
        more = f" (+{len(record['failures']) - 1} more: {', '.join(f[0] for f in record['failures'][1:])})" if len(record["failures"]) > 1 else ""
        print(f"FAIL {label}: {step}: {short(seen)}{more}")
        return 1
    print(f"ok {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
