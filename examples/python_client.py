"""Connect to `browserfarm mcp --http` over streamable HTTP with the official
Python MCP SDK, save a screenshot of a page and print it as markdown.

    pip install -r examples/requirements.txt
    browserfarm mcp --http 127.0.0.1:8931 &
    python3 examples/python_client.py http://127.0.0.1:8931/mcp https://example.org/

Set BROWSERFARM_TOKEN when the server was started with --token.
"""

import asyncio
import base64
import os
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(server: str, page: str) -> int:
    token = os.environ.get("BROWSERFARM_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(server, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()

                shot = await session.call_tool("screenshot", {"url": page, "max_width": 800})
                if shot.is_error:
                    print("screenshot failed:", shot.content[0].text, file=sys.stderr)
                    return 1
                image = next(c for c in shot.content if c.type == "image")
                png = base64.b64decode(image.data)
                with open("screenshot.png", "wb") as f:
                    f.write(png)
                print(f"saved screenshot.png ({len(png)} bytes, {image.mime_type})")

                read_page = await session.call_tool("scrape", {"url": page, "max_chars": 2000})
                if read_page.is_error:
                    print("scrape failed:", read_page.content[0].text, file=sys.stderr)
                    return 1
                print(read_page.content[0].text)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} SERVER_URL PAGE_URL")
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
