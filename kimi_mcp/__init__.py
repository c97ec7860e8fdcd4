"""kimi-mcp: the Moonshot Kimi Open Platform API as MCP tools."""

__version__ = "0.1.0"
