"""`logging/setLevel` for 2025-era clients: the SDK answers it -32601 unless a handler exists, and
clients such as the Inspector send it on connect.

kimi-mcp sends no log notifications (its log is stderr, which hosts keep in their own log files),
so the level a client asks for is the level of the `kimi_mcp` logger on stderr, over stdio, where
the client launched this process and reads its stderr. Over HTTP the server and its log are the
operator's and shared by every client, so the request is acknowledged and the configured
`log_level` stays. The 2026-07-28 revision removed the method; the SDK routes it only for
handshake-era sessions.
"""

import logging
from typing import Any

from mcp.server import MCPServer
from mcp.types import EmptyResult, LoggingLevel, SetLevelRequestParams

log = logging.getLogger(__name__)

# MCP's syslog levels on Python's scale: notice sits between info and warning, alert and
# emergency are as severe as anything Python logs.
PYTHON_LEVELS: dict[LoggingLevel, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": (logging.INFO + logging.WARNING) // 2,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emergency": logging.CRITICAL,
}
LOGGER = "kimi_mcp"


def serve_set_level(server: MCPServer[Any], *, applies: bool) -> None:
    """Answer logging/setLevel; with `applies` the `kimi_mcp` logger takes the level."""

    async def set_level(_: Any, params: SetLevelRequestParams) -> EmptyResult:
        if applies:
            logging.getLogger(LOGGER).setLevel(PYTHON_LEVELS[params.level])
            log.info("the client set the log level to %s", params.level)
        return EmptyResult()

    # The public MCPServer has no way to add a spec method; the SDK's docs point here (mcp 2.3).
    server._lowlevel_server.add_request_handler(
        "logging/setLevel", SetLevelRequestParams, set_level
    )
