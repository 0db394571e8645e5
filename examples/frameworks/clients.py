"""The four agent frameworks' MCP clients, each used the way its docs show and
its agent loop calls tools, and what each hands the model.

`connect(framework, transport, binary, url)` is an async context manager that
yields a `Conn`: the tools as the framework shows them to the model (name ->
JSON schema of the arguments) and `call(name, args)`, which runs one tool call
through the framework's own tool object and returns a `View`: the text the
framework would put into the model's context for that result. Each framework
is imported only when it is used (langchain-mcp-adapters lives in another
environment: it needs the MCP SDK 1.x, the others 2.x).
"""

from __future__ import annotations

import json
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

STEP_TIMEOUT = 60.0


@dataclass
class View:
    text: str
    # The framework's own error flag for the result, when it has one the model
    # is told about (None: it has none).
    error: bool | None = None
    # What the framework received but did not hand the model, for the report.
    hidden: dict[str, Any] = field(default_factory=dict)


@dataclass
class Conn:
    tools: dict[str, dict[str, Any]]
    call: Callable[[str, dict[str, Any]], Awaitable[View]]
    notes: list[str] = field(default_factory=list)


def _server_args() -> list[str]:
    return ["mcp", "--min-browsers", "0"]


def _env() -> dict[str, str]:
    # The stdio clients otherwise pass the server only a few variables (PATH,
    # HOME, ...); keep BROWSERFARM_CHROME and the like.
    return dict(os.environ)


@asynccontextmanager
async def connect(framework: str, transport: str, binary: str, url: str) -> AsyncIterator[Conn]:
    opener = {
        "fastmcp": _fastmcp,
        "openai-agents": _openai_agents,
        "pydantic-ai": _pydantic_ai,
        "langchain": _langchain_session,
        "langchain-default": _langchain_default,
    }[framework]
    async with opener(transport, binary, url) as conn:
        yield conn


# --- FastMCP: fastmcp.Client, call_tool(raise_on_error=False); the model gets
# the text blocks joined.


@asynccontextmanager
async def _fastmcp(transport: str, binary: str, url: str) -> AsyncIterator[Conn]:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    target: Any = (
        StdioTransport(command=binary, args=_server_args(), env=_env()) if transport == "stdio" else url
    )
    async with Client(target, timeout=STEP_TIMEOUT) as client:
        listed = await client.list_tools()
        tools = {t.name: t.input_schema for t in listed}

        async def call(name: str, args: dict[str, Any]) -> View:
            result = await client.call_tool(name, args, raise_on_error=False)
            texts = [c.text for c in result.content if c.type == "text"]
            hidden: dict[str, Any] = {}
            if result.structured_content is not None:
                hidden["structuredContent"] = result.structured_content
            if result.meta:
                hidden["_meta"] = result.meta
            dropped = [c.type for c in result.content if c.type != "text"]
            if dropped:
                hidden["non-text blocks"] = dropped
            return View("\n".join(texts), result.is_error, hidden)

        instructions = client.instructions or ""
        notes = [f"server instructions: {len(instructions)} chars in client.instructions, for the caller to pass on"]
        yield Conn(tools, call, notes)


# --- OpenAI Agents SDK: MCPServerStdio / MCPServerStreamableHttp, tools from
# MCPUtil.get_function_tools(convert_schemas_to_strict=True), each FunctionTool
# invoked through on_invoke_tool; the model gets the function_call_output the
# runner builds from the returned value.


def _nullable(prop: dict[str, Any]) -> bool:
    types = prop.get("type")
    return types == "null" or (isinstance(types, list) and "null" in types) or any(
        isinstance(v, dict) and v.get("type") == "null" for v in prop.get("anyOf", [])
    )


def _strict_args(schema: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """A strict schema makes every property required: the model has to send
    each one, null where the schema allows it. For one that allows no null a
    real model would have to make up a value; this stand-in sends the schema's
    default or, lacking one, leaves it out (the SDK does not check), and the
    row's notes count such arguments."""
    out = dict(args)
    for key, prop in (schema.get("properties") or {}).items():
        if key in out:
            continue
        if _nullable(prop):
            out[key] = None
        elif "default" in prop:
            out[key] = prop["default"]
    return out


def _render_function_output(output: Any) -> str:
    if isinstance(output, str):
        return output
    parts = []
    for item in output:
        kind = item.get("type")
        if kind == "input_text":
            parts.append(item.get("text", ""))
        else:
            parts.append(f"[{kind}]")
    return "\n".join(parts)


@asynccontextmanager
async def _openai_agents(transport: str, binary: str, url: str) -> AsyncIterator[Conn]:
    from agents import Agent, RunContextWrapper
    from agents.items import ItemHelpers
    from agents.mcp import MCPServerStdio, MCPServerStreamableHttp, MCPUtil
    from agents.tool_context import ToolContext
    from openai.types.responses import ResponseFunctionToolCall

    if transport == "stdio":
        server: Any = MCPServerStdio(
            params={"command": binary, "args": _server_args(), "env": _env()},
            name="browserfarm",
            client_session_timeout_seconds=STEP_TIMEOUT,
        )
    else:
        server = MCPServerStreamableHttp(
            params={"url": url, "timeout": STEP_TIMEOUT},
            name="browserfarm",
            client_session_timeout_seconds=STEP_TIMEOUT,
        )
    async with server:
        agent = Agent(name="driver", mcp_servers=[server])
        run_context = RunContextWrapper(context=None)
        function_tools = await MCPUtil.get_function_tools(
            server, convert_schemas_to_strict=True, run_context=run_context, agent=agent
        )
        by_name = {t.name: t for t in function_tools}
        strict = sorted(t.name for t in function_tools if t.strict_json_schema)
        # Strict mode makes every argument required; an optional one that allows
        # no null leaves the model to make up a value for it.
        forced = 0
        for listed in await server.list_tools():
            if listed.name in strict:
                schema = getattr(listed, "input_schema", None) or listed.inputSchema
                optional = set(schema.get("properties", {})) - set(schema.get("required", []))
                forced += sum(1 for key in optional if not _nullable(schema["properties"][key]))
        notes = [
            f"strict tools: {len(strict)}/{len(function_tools)}",
            f"optional arguments of strict tools that allow no null: {forced}",
            "server instructions: not used",
        ]
        counter = 0

        async def call(name: str, args: dict[str, Any]) -> View:
            nonlocal counter
            counter += 1
            tool = by_name[name]
            if tool.strict_json_schema:
                args = _strict_args(tool.params_json_schema, args)
            arguments = json.dumps(args)
            call_id = f"call_{counter}"
            ctx = ToolContext(
                context=None,
                tool_name=name,
                tool_call_id=call_id,
                tool_arguments=arguments,
                agent=agent,
            )
            output = await tool.on_invoke_tool(ctx, arguments)
            item = ItemHelpers.tool_call_output_item(
                ResponseFunctionToolCall(type="function_call", call_id=call_id, name=name, arguments=arguments),
                output,
            )
            return View(_render_function_output(item["output"]), None)

        yield Conn({t.name: t.params_json_schema for t in function_tools}, call, notes)


# --- Pydantic AI: MCPToolset (2.x; MCPServerStdio/-StreamableHTTP are gone),
# direct_call_tool, the call its agent loop makes; the model gets the
# ToolReturnPart's text, and for an isError result the ModelRetry's message as a
# retried return.


@asynccontextmanager
async def _pydantic_ai(transport: str, binary: str, url: str) -> AsyncIterator[Conn]:
    from fastmcp.client.transports import StdioTransport
    from pydantic_ai.exceptions import ModelRetry, ToolFailed
    from pydantic_ai.mcp import MCPToolset
    from pydantic_ai.messages import ToolReturnPart

    if transport == "stdio":
        toolset: Any = MCPToolset(
            StdioTransport(command=binary, args=_server_args(), env=_env()),
            id="browserfarm",
            read_timeout=STEP_TIMEOUT,
        )
    else:
        toolset = MCPToolset(url, id="browserfarm", read_timeout=STEP_TIMEOUT)
    async with toolset:
        listed = await toolset.list_tools()
        tools = {t.name: t.input_schema for t in listed}
        counter = 0

        async def call(name: str, args: dict[str, Any]) -> View:
            nonlocal counter
            counter += 1
            call_id = f"call_{counter}"
            try:
                value = await toolset.direct_call_tool(name, args)
            except ModelRetry as e:
                part = ToolReturnPart(tool_name=name, content=e.message, tool_call_id=call_id, outcome="retried")
                return View(part.model_response_str(), True, {"raised": "ModelRetry"})
            except ToolFailed as e:
                part = ToolReturnPart(tool_name=name, content=e.message, tool_call_id=call_id, outcome="failed")
                return View(part.model_response_str(), True, {"raised": "ToolFailed"})
            part = ToolReturnPart(tool_name=name, content=value, tool_call_id=call_id)
            return View(part.model_response_str(), False, {"returned": type(value).__name__})

        instructions = toolset.instructions or ""
        notes = [f"server instructions: {len(instructions)} chars, not shown (include_instructions=False by default)"]
        yield Conn(tools, call, notes)


# --- LangChain (langchain-mcp-adapters): StructuredTools with
# response_format="content_and_artifact", invoked with a tool call as the
# agent's ToolNode does; the model gets the ToolMessage's content (the
# artifact, structuredContent, stays out of its context).


def _langchain_connection(transport: str, binary: str, url: str) -> dict[str, Any]:
    if transport == "stdio":
        return {"transport": "stdio", "command": binary, "args": _server_args(), "env": _env()}
    return {"transport": "streamable_http", "url": url}


def _langchain_schema(tool: Any) -> dict[str, Any]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return convert_to_openai_tool(tool)["function"].get("parameters", {})


def _langchain_caller(tools: list[Any]) -> Callable[[str, dict[str, Any]], Awaitable[View]]:
    by_name = {t.name: t for t in tools}
    counter = 0

    async def call(name: str, args: dict[str, Any]) -> View:
        nonlocal counter
        counter += 1
        message = await by_name[name].ainvoke({"name": name, "args": args, "id": f"call_{counter}", "type": "tool_call"})
        content = message.content
        if isinstance(content, str):
            text = content
        else:
            text = "\n".join(
                block if isinstance(block, str) else block.get("text", "") if block.get("type") == "text" else f"[{block.get('type')}]"
                for block in content
            )
        hidden = {}
        if getattr(message, "artifact", None):
            hidden["artifact"] = message.artifact
        return View(text, message.status == "error", hidden)

    return call


@asynccontextmanager
async def _langchain_session(transport: str, binary: str, url: str) -> AsyncIterator[Conn]:
    from langchain_mcp_adapters.client import MultiServerMCPClient
    from langchain_mcp_adapters.tools import load_mcp_tools

    client = MultiServerMCPClient({"browserfarm": _langchain_connection(transport, binary, url)})
    async with client.session("browserfarm") as session:
        tools = await load_mcp_tools(session)
        yield Conn({t.name: _langchain_schema(t) for t in tools}, _langchain_caller(tools), ["server instructions: not used"])


@asynccontextmanager
async def _langchain_default(transport: str, binary: str, url: str) -> AsyncIterator[Conn]:
    from langchain_mcp_adapters.client import MultiServerMCPClient

    client = MultiServerMCPClient({"browserfarm": _langchain_connection(transport, binary, url)})
    tools = await client.get_tools()  # every call opens an MCP session of its own
    yield Conn({t.name: _langchain_schema(t) for t in tools}, _langchain_caller(tools), ["a new MCP session per call", "server instructions: not used"])
