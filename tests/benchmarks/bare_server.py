"""The baseline: a bare MCPServer with one trivial tool, over stdio."""

from mcp.server import MCPServer

server = MCPServer("bare", version="0")


@server.tool()
async def echo(text: str) -> str:
    """Return the text."""
    return text


if __name__ == "__main__":
    server.run()
