"""The snapshot start-up lists the tools from (`tool_list.json`), made from the live tools. After
changing a tool's arguments, docstring, result model, title or hints, rewrite it with:

    python -m kimi_mcp.server.tool_snapshot --write
"""

import json
import sys
from collections.abc import Collection, Sequence

import anyio
from mcp.types import Tool

from kimi_mcp.config import TOOL_NAMES
from kimi_mcp.server.compact_schemas import CompactToolsServer
from kimi_mcp.server.tool_list import SNAPSHOT
from kimi_mcp.server.tool_registry import offered_tools, register_tools

REWRITE = "python -m kimi_mcp.server.tool_snapshot --write"


async def live(names: Collection[str]) -> list[Tool]:
    """What the real tools named in `names` compact to, registered as a server registers them."""
    server = CompactToolsServer[object]("kimi")
    register_tools(server, offered_tools(names), secrets=())
    return await server.list_tools()


def as_json(tools: list[Tool]) -> str:
    """The tools as the snapshot holds them: wire names, nothing unset, one field a line."""
    wire = [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in tools]
    return json.dumps(wire, indent=1, ensure_ascii=False) + "\n"


def main(argv: Sequence[str]) -> None:
    """Rewrite the snapshot from the live tools (the test says when it is out of date)."""
    if list(argv) != ["--write"]:
        sys.exit(f"usage: {REWRITE}")
    SNAPSHOT.write_text(as_json(anyio.run(live, TOOL_NAMES)), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
