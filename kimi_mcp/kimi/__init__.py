"""The Kimi API client: a compact async client of the Moonshot Kimi Open Platform API.

It knows nothing of MCP, of kimi-mcp's settings or of where anything is kept: callers hand it a
key, a base URL, a user agent and limits, and get typed answers, or `KimiError`s with the key
redacted.

- `client`: `KimiClient`, one short method per endpoint;
- `connection` (one request with retries) and `chat_stream` (one streamed chat, chat slots),
  over `retries` (one call's attempts) and `upstream` (timeouts, capped bodies, SSE lines);
- `stream` (the SSE chat stream read into an outcome), `policy` (Kimi's errors, the retry
  policy, redaction), `rules` (what each model family takes), `types` (Kimi's JSON shapes),
  `paths` (the one rule for ids that go into a URL path).

May import: `kimi_mcp.errors` only (never `mcp`, `config`, `server`, `store`, `ask`).
"""
