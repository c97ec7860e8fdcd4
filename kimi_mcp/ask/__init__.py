"""ask_kimi's work apart from MCP, and the services the file and model tools share with it.

- `chat`: `ChatService`, one ask: the conversation, documents and images, fitting, the stream,
  the answer kept; it returns a `ChatAnswer`, which the MCP face shapes into its result;
- `documents` (uploads once per content, extracted text cached, documents as Kimi reads them),
  `images` (vision parts), `catalogue` (the live model list), `token_counts` (Kimi's counts,
  cached per message) and `fitting` (the history fitted to the window).

May import: `kimi_mcp.kimi` (the client, not its mechanics), the interfaces of `kimi_mcp.store`,
`kimi_mcp.local_files`, `kimi_mcp.errors` (never `mcp`, `config` or `server`).
"""
