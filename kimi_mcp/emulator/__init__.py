"""The emulator: a local stand-in for the Moonshot Kimi HTTP API, written from kimi-api.md alone.

It serves `kimi-mcp demo`, `kimi-mcp emulator`, the tests and the benchmarks. It is never a
default upstream: the real API is.

May import: nothing of kimi_mcp but its own modules (and starlette, uvicorn, anyio). Written from
the API's documentation on its own, it cannot share the client's shapes or mirror its mistakes
(house style 0.6); import-linter holds this wall in CI.

This package's top is the public face; the work is done in its modules: `state` (what the API
holds and received), `app` (the Starlette app and the `Emulator` over the state), `routes` and
`admin` (handlers), `formulas` (the Formula API), `requests` (reading a request), `server`
(uvicorn), `catalogue`, `rules`, `chat_rules` and `tool_rules` (models, tokens, Kimi's request
rules), `answer` and `wire` (bodies and responses), `tool_model` (when the model calls declared
tools, and the trigger grammar that decides it), `schema_answer` (json_schema answers),
`fault_spec`, `faults` and `pacing` (misbehaviour), `records` (what was received).
"""

from kimi_mcp.emulator.app import Emulator
from kimi_mcp.emulator.fault_spec import Fault
from kimi_mcp.emulator.records import Disconnect, RecordedRequest, StoredFile
from kimi_mcp.emulator.server import NotLoopback, run_emulator, serve_emulator

__all__ = [
    "Disconnect",
    "Emulator",
    "Fault",
    "NotLoopback",
    "RecordedRequest",
    "StoredFile",
    "run_emulator",
    "serve_emulator",
]
