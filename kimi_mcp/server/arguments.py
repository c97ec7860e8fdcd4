"""Refuse tool arguments the tool does not declare (MCPServer 2.3 silently drops them).

A model that writes `max_token` or `conversation` expects it to act; dropping it quietly returns a
result that looks right and is not. The refusal names the argument and the ones that exist.
"""

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult, TextContent


def declared_arguments(fn: Callable[..., Any]) -> frozenset[str]:
    """Parameter names a tool takes, without the injected Context and resolver-filled ones."""
    names = []
    for name, parameter in inspect.signature(fn).parameters.items():
        annotation = parameter.annotation
        origin = getattr(annotation, "__origin__", annotation)
        injected = inspect.isclass(origin) and issubclass(origin, Context)
        # Annotated[T, Resolve(fn)] is filled by the SDK (the client's roots): a caller
        # passing it as an argument is as wrong as any unknown name.
        resolved = any(isinstance(m, Resolve) for m in getattr(annotation, "__metadata__", ()))
        if not (injected or resolved):
            names.append(name)
    return frozenset(names)


class UnknownArgumentGuard(ServerMiddleware[Any]):
    def __init__(self, tools: Iterable[tuple[str, frozenset[str]]]) -> None:
        self._allowed = dict(tools)

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method == "tools/call" and isinstance(ctx.params, dict):
            refusal = self._refusal(ctx.params.get("name"), ctx.params.get("arguments"))
            if refusal is not None:
                return CallToolResult(
                    content=[TextContent(type="text", text=refusal)], is_error=True
                )
        return await call_next(ctx)

    def _refusal(self, name: object, arguments: object) -> str | None:
        allowed = self._allowed.get(name) if isinstance(name, str) else None
        if allowed is None or not isinstance(arguments, dict):
            return None  # unknown tools and malformed params get the SDK's own answers
        unknown = sorted(set(arguments) - allowed)
        if not unknown:
            return None
        return (
            f"Unknown argument(s) for {name}: {', '.join(unknown)}. "
            f"It takes: {', '.join(sorted(allowed)) or 'no arguments'}. Nothing was done."
        )
