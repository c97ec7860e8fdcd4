"""ask_kimi's work apart from MCP: from a question to a kept answer.

- `chat`: `ChatService`, one ask: the conversation, documents and images, fitting, the stream,
  the answer kept; it returns a `ChatAnswer`, which the MCP face shapes into its result;
- `documents` (uploads once per content, extracted text cached), `images` (vision parts),
  `catalogue` (the live model list), `token_counts` (Kimi's counts, cached per message) and
  `fitting` (the history fitted to the window).

May import: `kimi_mcp.kimi`, `kimi_mcp.store`, `kimi_mcp.local_files`, `kimi_mcp.errors`
(never `mcp`, `config` or `server`).
"""
