"""The MCP face: the server, its tools, resources and results, and the HTTP app.

- `build`: `build_server`, which builds the services from the settings and registers the tools,
  with KimiErrors turned into ToolErrors in one place;
- `tools`, `conversation_tools`, `resources`, `results` (the structured results), `progress`,
  `roots` (the client's roots), `arguments` (unknown arguments refused), `app_context`;
- `http_app` and `http_auth`: streamable HTTP, the bearer token, the Host/Origin guard.

The only package that imports `mcp.server`. May import: everything below it (`ask`, `store`,
`local_files`, `kimi`, `config`, `errors`), never the emulator.
"""

from kimi_mcp.server.build import build_server

__all__ = ["build_server"]
