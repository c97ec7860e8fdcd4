"""The real tools, registered on the server: each wrapped so that KimiErrors become ToolErrors in
one place. Imported on the first call that needs them (tools/list answers from `tool_list`'s
snapshot until then), since importing them imports the services and the client behind them."""

import functools
import logging
import traceback
from collections.abc import Awaitable, Callable, Collection
from typing import Any, ParamSpec, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from kimi_mcp.errors import KimiError
from kimi_mcp.kimi.policy import redact
from kimi_mcp.server.results import wire_safe
from kimi_mcp.server.search_tool import SEARCH_ANNOTATIONS, web_search
from kimi_mcp.server.tools import TOOLS, ToolEntry

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def every_tool() -> list[ToolEntry]:
    """Every tool, in the fixed order of `TOOL_NAMES`."""
    everything = list(TOOLS)
    everything.insert(1, (web_search, "Search the web with Kimi", SEARCH_ANNOTATIONS))
    return everything


def offered_tools(names: Collection[str]) -> list[ToolEntry]:
    """The tools named in `names`, in the fixed order of `TOOL_NAMES`."""
    return [tool for tool in every_tool() if tool[0].__name__ in names]


def register_tools(
    server: MCPServer[Any], tools: list[ToolEntry], secrets: tuple[str, ...]
) -> None:
    """`secrets`: what an unexpected error's text is redacted of before it is logged or sent."""
    for fn, title, annotations in tools:
        tool = _reported(fn, secrets)
        server.add_tool(tool, title=title, annotations=annotations, structured_output=True)


def _reported(fn: Callable[P, Awaitable[R]], secrets: tuple[str, ...]) -> Callable[P, Awaitable[R]]:
    """Turn KimiErrors into ToolErrors: the only way their message reaches the model (mcp 2.3).

    Anything else is a bug of ours: it is logged and reported with the key redacted, because an
    exception's text (a library's, say, that quotes the request) is not ours to trust.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except KimiError as exc:
            log.info("%s failed: %s", fn.__name__, exc)
            # wire_safe: a lone surrogate Kimi echoed (in an error body, say) cannot be sent
            # as JSON and would stop a stdio server.
            raise ToolError(wire_safe(str(exc))) from None
        except ToolError:
            raise
        except Exception as exc:
            trace = redact("".join(traceback.format_exception(exc)), secrets)
            log.error("%s crashed (a kimi-mcp bug; please report it):\n%s", fn.__name__, trace)
            detail = redact(f"{type(exc).__name__}: {exc}", secrets)[:300]
            raise ToolError(
                f"kimi-mcp failed unexpectedly in {fn.__name__} ({detail}). Try again; if it "
                "keeps failing, report it with the server's log."
            ) from None

    return wrapper
