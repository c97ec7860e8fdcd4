"""Whose conversations a request may see: the owner its bearer token names, for every handler.

The bearer check (`http_auth`) puts the owner in the ASGI scope of each HTTP request; the SDK hands
that request to the handler's context, and `OwnerScope` (an MCP middleware, so static resources,
which get no Context, see it too) makes it `current_owner()` for the handler's duration. stdio and
in-memory sessions have no HTTP request: they are the default owner.
"""

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext

from kimi_mcp.server.http_auth import OWNER_SCOPE_KEY
from kimi_mcp.store.default_owner import DEFAULT_OWNER

_owner: ContextVar[str] = ContextVar("kimi_mcp_owner", default=DEFAULT_OWNER)


def current_owner() -> str:
    """The owner of the request being handled (the default owner outside HTTP)."""
    return _owner.get()


def request_owner(request: object) -> str:
    scope = getattr(request, "scope", None)
    owner = scope.get(OWNER_SCOPE_KEY) if isinstance(scope, Mapping) else None
    return owner if isinstance(owner, str) else DEFAULT_OWNER


class OwnerScope(ServerMiddleware[Any]):
    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        reset = _owner.set(request_owner(ctx.request))
        try:
            return await call_next(ctx)
        finally:
            _owner.reset(reset)
