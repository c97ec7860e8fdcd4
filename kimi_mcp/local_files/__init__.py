"""Local files: the path guard every read of the user's disk goes through.

- `guard`: `PathGuard` (allowed directories, client roots, deny list, no-follow open) and the
  client roots of the call in progress;
- `checked`: a file opened and checked by the guard, read or streamed without a second open.

How a file may be read is decided here; what is allowed and what is protected (the allowed
directories, the deny list, kimi-mcp's own config and data) the server hands over as plain
values when it builds the guard (`server.services.guard_for`).

May import: `kimi_mcp.errors` only (no settings: the values come from the server).
"""
