"""The client's roots: where a client declares them, local files must lie inside them too.

The allowed set is allowed_dirs intersected with the roots (reliability.md 1.5). Roots are asked
on every call that reads a local path, through the SDK's `Resolve(ListRoots())`, which works in
both protocol eras: a `roots/list` request mid-call on 2025-11-25, an input request on
2026-07-28. Asking each time, rather than caching per session, means a changed list
(`notifications/roots/list_changed`) counts from the very next call, and the 2026 era has no
session to cache in; the cost is one round trip per call that reads files.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from mcp.server.elicitation import AcceptedElicitation
from mcp.server.mcpserver import Context, ListRoots, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp.types import REQUEST_TIMEOUT, ListRootsRequest, ListRootsResult
from pydantic import ValidationError

ROOTS_TIMEOUT = 10.0  # seconds a client gets to answer roots/list
# The SDK wraps every resolver's outcome in AcceptedElicitation[Any]; pydantic caches that
# parametrised class only weakly, so after a garbage collection it is rebuilt (~0.5 ms) on the
# next tool call. Holding it here keeps it built: ~4 us per call instead.
_OUTCOME_CLASS = AcceptedElicitation[Any]


def _declares_roots(ctx: Context) -> bool:
    capabilities = ctx.client_capabilities
    return capabilities is not None and capabilities.roots is not None


async def _roots(ctx: Context) -> ListRootsResult | ListRoots | None:
    if not _declares_roots(ctx):
        return None
    if ctx.session.can_send_request:  # 2025-11-25: a request to the client, which may never answer
        return await _ask_with_time_limit(ctx)
    return ListRoots()  # 2026-07-28: an input request, answered with the client's next round


async def _ask_with_time_limit(ctx: Context) -> ListRootsResult:
    """The SDK's own roots/list waits forever; a client that never answers must not hang us."""
    try:
        result: ListRootsResult = await ctx.session.send_request(
            ListRootsRequest(),
            ListRootsResult,
            request_read_timeout_seconds=ROOTS_TIMEOUT,
            metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
        )
        return result
    except (MCPError, TimeoutError, ValidationError) as exc:
        reason = "did not answer in time" if isinstance(exc, TimeoutError) else "answered an error"
        if isinstance(exc, MCPError) and exc.error.code == REQUEST_TIMEOUT:
            reason = "did not answer in time"
        raise ToolError(
            f"Your MCP client declares roots but {reason} when asked for them (roots/list), so "
            "local paths cannot be checked against them and nothing was read. Retry; if it "
            "persists, the client's roots support is broken: pass file_ids of uploaded files "
            "instead."
        ) from None


async def _roots_for_files(
    ctx: Context, files: Sequence[str]
) -> ListRootsResult | ListRoots | None:
    # Only when local paths are given: no extra round trip for a call that reads no file.
    return await _roots(ctx) if files else None


async def _roots_for_ask(
    ctx: Context, files: Sequence[str], images: Sequence[str]
) -> ListRootsResult | ListRoots | None:
    local_images = [i for i in images if not i.startswith("ms://")]
    return await _roots_for_files(ctx, [*files, *local_images])


# Tool parameters filled by the SDK, never by the caller (absent from the input schema).
ClientRoots = Annotated[ListRootsResult | None, Resolve(_roots)]
ClientRootsForFiles = Annotated[ListRootsResult | None, Resolve(_roots_for_files)]
ClientRootsForAsk = Annotated[ListRootsResult | None, Resolve(_roots_for_ask)]


def root_dirs(result: ListRootsResult | None) -> list[Path] | None:
    """The local directories of the roots; None when the client gives no roots.

    An empty list is "no roots given", as if the capability were not declared: clients such as
    the MCP Inspector declare roots and list none, and reading nothing would leave their users no
    way to use a local file; allowed_dirs still decide alone. A root that is not a local file://
    URI names no directory here, so it allows nothing.
    """
    if result is None or not result.roots:
        return None
    return [d for d in (_local_dir(str(root.uri)) for root in result.roots) if d is not None]


def _local_dir(uri: str) -> Path | None:
    parts = urlsplit(uri)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or not parts.path:
        return None
    path = Path(unquote(parts.path))
    return path if path.is_absolute() and "\x00" not in str(path) else None
