"""The `web_search` tool: ask_kimi's tool loop with only Kimi's web-search formula, a prompt
that asks for a concise, cited answer, and a result trimmed to what a search caller needs."""

from typing import Annotated, Literal

from mcp.types import ToolAnnotations
from pydantic import Field

from kimi_mcp.ask.exchange import ChatRequest
from kimi_mcp.ask.kimi_tools import WEB_SEARCH
from kimi_mcp.server.app_context import AppCtx, app_of
from kimi_mcp.server.owners import current_owner
from kimi_mcp.server.progress import ProgressReporter
from kimi_mcp.server.results import WebSearchResult
from kimi_mcp.server.tools import MODEL

SearchClass = Literal[
    "all", "academic", "social", "library", "finance", "code", "ecommerce", "medical"
]
SEARCH_PROMPT = (
    "Search the web to answer the user's question. Answer concisely. Cite every fact with a "
    "Markdown link [title](url) to the page it comes from, and say plainly when the search "
    "found nothing reliable."
)


async def web_search(
    query: Annotated[str, Field(min_length=1, max_length=2000, description="What to find.")],
    ctx: AppCtx,
    classes: Annotated[
        list[SearchClass] | None, Field(max_length=8, description="Kinds of sources to prefer.")
    ] = None,
    model: Annotated[str | None, MODEL] = None,
) -> WebSearchResult:
    """Search the web with Kimi: a concise answer citing its sources. Each search is charged."""
    prompt = query
    if classes:  # the Formula's own `classes` argument: the model fills it when asked to
        prompt += f"\n\n(Search with classes: {', '.join(classes)}.)"
    request = ChatRequest(
        prompt,
        SEARCH_PROMPT,
        model,
        owner=current_owner(),
        kimi_tools=(WEB_SEARCH,),
        keep=False,  # a one-off: not a conversation to list or continue
    )

    async def send(progress: float, message: str) -> None:
        await ctx.report_progress(progress, None, message)

    async with ProgressReporter(send).running() as reporter:
        answer = await app_of(ctx).chat.ask(request, reporter.update, reporter.step)
    return WebSearchResult.of(answer)


# Not read-only: each search is charged and counted in the day's spend, so a host should not
# treat it as free to call without asking.
SEARCH_ANNOTATIONS = ToolAnnotations(destructive_hint=False)  # the rest: the spec's defaults
