"""stderr logging for the server (stdout is the protocol in stdio mode)."""

import logging
import sys

# The SDK drops an input message that is not JSON-RPC and says so only at DEBUG; the client that
# sent it then waits for an answer that never comes. This is where it says so.
_SDK_DISPATCHER = "mcp.shared.jsonrpc_dispatcher"
_DROPPED = "transport yielded exception"


class SurfaceDroppedInput(logging.Filter):
    """Raises the SDK's "dropped an unparsable message" line to WARNING; lets through nothing
    else below the configured level."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(_DROPPED):
            problem = type(record.args[0]).__name__ if isinstance(record.args, tuple) else "?"
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "dropped an input message that is not valid JSON-RPC (%s); no answer sent"
            record.args = (problem,)
        return record.levelno >= self.level


def setup_logging(level: str) -> None:
    numeric = logging.getLevelName(level)
    logging.basicConfig(
        stream=sys.stderr, level=numeric, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("kimi_mcp.audit").setLevel(min(logging.INFO, numeric))
    dispatcher = logging.getLogger(_SDK_DISPATCHER)
    dispatcher.setLevel(logging.DEBUG)  # the filter decides, so the DEBUG line reaches it
    dispatcher.addFilter(SurfaceDroppedInput(min(numeric, logging.WARNING)))
