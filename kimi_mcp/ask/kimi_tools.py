"""Kimi's official tools (the Formula API, kimi-api.md 2.8): which ones a call may use, and their
function declarations, fetched once per process and kept for a while.

A formula declares function tools; the chat names the function, and the fiber that runs it needs
the formula's URI back, so a `Toolbox` keeps the map from function name to formula.
"""

import logging
from dataclasses import dataclass
from typing import Any

import anyio

from kimi_mcp.errors import InputError
from kimi_mcp.kimi.client import KimiClient

log = logging.getLogger(__name__)

# The documented formulas worth offering (2.8); the toys and the memory store are left out.
FORMULAS = (
    "web-search",
    "fetch",
    "code_runner",
    "quickjs",
    "convert",
    "date",
    "base64",
    "excel",
    "rethink",
)
WEB_SEARCH = "web-search"
DECLARATIONS_TTL = 3600.0  # seconds; declarations change with Kimi's releases, not per call


def formula_uri(name: str) -> str:
    return f"moonshot/{name}:latest"


def checked_tools(names: tuple[str, ...], allowed: frozenset[str]) -> tuple[str, ...]:
    """`names` without repeats, each a known formula the operator allows.

    Raises:
        InputError: an unknown or forbidden name (nothing was sent).
    """
    unknown = [name for name in names if name not in FORMULAS]
    if unknown:
        raise InputError(
            f"Unknown kimi_tools {', '.join(map(repr, unknown))}. Kimi's official tools are: "
            f"{', '.join(FORMULAS)}. Nothing was sent."
        )
    forbidden = [name for name in names if name not in allowed]
    if forbidden:
        usable = ", ".join(name for name in FORMULAS if name in allowed) or "none"
        raise InputError(
            f"kimi_tools {', '.join(map(repr, forbidden))} are not allowed on this server "
            f"(setting kimi_tools_allowed; usable here: {usable}). Nothing was sent."
        )
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Toolbox:
    """The `tools` of a chat request, and which formula runs each function."""

    declarations: list[dict[str, Any]]
    formula_of: dict[str, str]  # function name -> formula URI

    @property
    def empty(self) -> bool:
        return not self.declarations


NO_TOOLS = Toolbox([], {})


class FormulaCatalogue:
    """Tool declarations per formula, cached for `ttl` seconds (one fetch per formula at once)."""

    def __init__(self, client: KimiClient, *, ttl: float = DECLARATIONS_TTL) -> None:
        self._client = client
        self._ttl = ttl
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = anyio.Lock()

    async def toolbox(self, names: tuple[str, ...], *, deadline: float) -> Toolbox:
        """The declarations of `names`' formulas; a function name two formulas share is
        declared once (Kimi rejects a request that repeats one)."""
        declarations: list[dict[str, Any]] = []
        formula_of: dict[str, str] = {}
        for name in names:
            uri = formula_uri(name)
            for tool in await self._declarations(uri, deadline):
                function = tool.get("function")
                fname = function.get("name") if isinstance(function, dict) else None
                if not isinstance(fname, str) or fname in formula_of:
                    log.warning("formula %s: skipped a tool declaration (%r)", uri, fname)
                    continue
                formula_of[fname] = uri
                declarations.append(tool)
        return Toolbox(declarations, formula_of)

    async def _declarations(self, uri: str, deadline: float) -> list[dict[str, Any]]:
        async with self._lock:
            fetched = self._cache.get(uri)
            if fetched is None or anyio.current_time() - fetched[0] > self._ttl:
                tools = await self._client.formula_tools(uri, deadline=deadline)
                fetched = self._cache[uri] = (anyio.current_time(), tools)
            return fetched[1]
