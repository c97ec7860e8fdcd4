"""A local stand-in for the Moonshot Kimi HTTP API, written from kimi-api.md alone.

It serves `kimi-mcp demo`, `kimi-mcp emulator`, the tests and the benchmarks. It imports nothing
from the rest of kimi_mcp, so that it cannot share the client's mistakes (house style 0.6).

This module is the emulator's public face; the work is done in the `emulator_*` modules:
`emulator_state` (the Emulator object), `emulator_app`, `emulator_routes` and `emulator_admin`
(HTTP), `emulator_server` (uvicorn), `emulator_catalogue`, `emulator_rules` and
`emulator_chat_rules` (models, tokens, Kimi's request rules), `emulator_answer` and
`emulator_wire` (bodies and responses), `emulator_fault_spec`, `emulator_faults` and
`emulator_pacing` (misbehaviour).
"""

from kimi_mcp.emulator_fault_spec import Fault
from kimi_mcp.emulator_records import Disconnect, RecordedRequest, StoredFile
from kimi_mcp.emulator_server import run_emulator, serve_emulator
from kimi_mcp.emulator_state import Emulator

__all__ = [
    "Disconnect",
    "Emulator",
    "Fault",
    "RecordedRequest",
    "StoredFile",
    "run_emulator",
    "serve_emulator",
]
