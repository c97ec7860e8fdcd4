"""logging/setLevel: answered for 2025-era clients (the Inspector sends it on connect), setting the
stderr level of the kimi_mcp logger over stdio and leaving the operator's log alone over HTTP."""

import logging
from collections.abc import Iterator

import pytest
from mcp import Client
from mcp.types import EmptyResult, LoggingLevel

from kimi_mcp.config import Settings
from kimi_mcp.server import build_server

# The client warns that logging/setLevel is deprecated in 2026-07-28: 2025-era clients send it.
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]


@pytest.fixture
def kimi_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("kimi_mcp")
    before = logger.level
    yield logger
    logger.setLevel(before)


@pytest.mark.parametrize(
    ("level", "python_level"),
    [("debug", logging.DEBUG), ("notice", 25), ("error", logging.ERROR), ("alert", 50)],
)
async def test_set_level_is_answered_and_sets_the_kimi_mcp_log_level(
    settings: Settings, kimi_logger: logging.Logger, level: LoggingLevel, python_level: int
) -> None:
    async with Client(build_server(settings), mode="legacy") as client:
        assert isinstance(await client.set_logging_level(level), EmptyResult)
    assert kimi_logger.level == python_level


async def test_set_level_over_http_leaves_the_operators_log_level(
    settings: Settings, kimi_logger: logging.Logger
) -> None:
    """The HTTP server's log is shared by every client: the request is answered, not applied."""
    kimi_logger.setLevel(logging.NOTSET)
    server = build_server(settings, clients_set_log_level=False)
    async with Client(server, mode="legacy") as client:
        assert isinstance(await client.set_logging_level("debug"), EmptyResult)
    assert kimi_logger.level == logging.NOTSET
