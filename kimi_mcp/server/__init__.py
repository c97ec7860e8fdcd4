"""The MCP face: the server, its tools, resources and results, and the HTTP app.

- `build`: `build_server`, light to import: it lists the tools from a snapshot (`tool_list`,
  rewritten by `tool_snapshot`) and defers the rest (`deferred`) to the first request needing it:
  `tool_registry` registers the tools, with KimiErrors turned into ToolErrors in one place, and
  `app_context.Services` builds the services (`services`) on the first call;
- `tools`, `conversation_tools`, `resources`, `results` (the structured results), `progress`,
  `roots` (the client's roots), `arguments` (unknown arguments refused, wrong ones explained by
  `argument_errors`, unknown prompts -32602), `file_access` (why no local file may be read);
- `stdio_edge`: the SDK's stdio transport, with unparsable request lines answered;
- `http_app`, `http_auth` and `http_sessions`: streamable HTTP, the bearer tokens, the Host/Origin
  guard, the session idle timeout and cap; `owners`: whose conversations a request may see.

The only package that imports `mcp.server`. May import: everything below it (`ask`, `store`,
`local_files`, `kimi`, `config`, `errors`), never the emulator.
"""

from kimi_mcp.server.build import build_server

__all__ = ["build_server"]
