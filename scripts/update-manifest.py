#!/usr/bin/env python3
"""Rewrites the tools of mcp-manifest.json from a built server's tools/list.

Usage: scripts/update-manifest.py target/debug/browserfarm
The e2e test `the_manifest_matches_the_server` fails until this is rerun after a
tool's name or description changes.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

# The tools a bundle lists by default: the binary's default tool groups.
env = {k: v for k, v in os.environ.items() if k != "BROWSERFARM_TOOLS"}
server = subprocess.Popen(
    [sys.argv[1], "mcp", "--min-browsers", "0", "--audit-log", "off"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    env=env,
)

def send(message):
    server.stdin.write(json.dumps(message) + "\n")
    server.stdin.flush()

send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "update-manifest", "version": "1"}}})
server.stdout.readline()
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
tools = json.loads(server.stdout.readline())["result"]["tools"]
server.stdin.close()
server.wait()

path = Path(__file__).resolve().parent.parent / "mcp-manifest.json"
manifest = json.loads(path.read_text())
manifest["tools"] = sorted(
    ({"name": t["name"], "description": t["description"]} for t in tools),
    key=lambda t: t["name"],
)
path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
print(f"{len(tools)} tools written to {path.name}")
