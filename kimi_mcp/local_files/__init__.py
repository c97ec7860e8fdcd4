"""Local files: the path guard every read of the user's disk goes through.

- `guard`: `PathGuard` (allowed directories, client roots, deny list, no-follow open) and the
  client roots of the call in progress;
- `checked`: a file opened and checked by the guard, read or streamed without a second open.

What may be read is decided here and nowhere else; the settings reach it as plain values.

May import: `kimi_mcp.errors` (and `kimi_mcp.config`, though it needs nothing of it today).
"""
