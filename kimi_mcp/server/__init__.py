"""The MCP face: the server, its tools, resources and results, and the HTTP app.

- `build`: `build_server`, which builds the services from the settings and registers the tools,
  with KimiErrors turned into ToolErrors in one place;
- `tools`, `conversation_tools`, `resources`, `results` (the structured results), `progress`,
  `roots` (the client's roots), `arguments` (unknown arguments refused, wrong ones explained by
  `argument_errors`, unknown prompts -32602), `app_context`;
- `stdio_edge`: the SDK's stdio transport, with unparsable request lines answered;
- `http_app`, `http_auth` and `http_sessions`: streamable HTTP, the bearer tokens, the Host/Origin
  guard, the session idle timeout and cap; `owners`: whose conversations a request may see.

The only package that imports `mcp.server`. May import: everything below it (`ask`, `store`,
`local_files`, `kimi`, `config`, `errors`), never the emulator.
"""

from kimi_mcp.server.build import build_server

__all__ = ["build_server"]
