"""Getting kimi-mcp into a user's hands: `install`/`uninstall` for each MCP client, `doctor`
(is my setup right? `doctor_kimi` holds its checks of Kimi itself) and `config` (the effective
settings and where each came from).

Command-line work only: it reads settings, talks to Kimi through the client and writes client
config files; the MCP server never imports it. May import: everything below it (`server`,
`ask`, `store`, `local_files`, `kimi`, `config`, `errors`), never the emulator.
"""
