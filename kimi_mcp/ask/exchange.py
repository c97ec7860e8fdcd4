"""What an ask takes and gives: the request as the tools pass it, and the answer, complete or
not, that the MCP face turns into a tool result."""

from dataclasses import dataclass, field
from typing import Any

from kimi_mcp.ask.pricing import Cost
from kimi_mcp.ask.sources import Source
from kimi_mcp.ask.tool_loop import ToolRun
from kimi_mcp.kimi.stream import TruncatedReason
from kimi_mcp.kimi.types import Usage
from kimi_mcp.store.conversations import DEFAULT_OWNER


@dataclass(frozen=True)
class ChatRequest:
    prompt: str
    system: str | None = None
    model: str | None = None
    thinking: bool | None = None
    max_tokens: int | None = None
    json_mode: bool = False
    prefix: str | None = None
    deadline: float | None = None
    conversation_id: str | None = None
    files: tuple[str, ...] = ()
    file_ids: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    owner: str = DEFAULT_OWNER  # whose conversations this call may see and continue
    kimi_tools: tuple[str, ...] = ()  # Formula names (kimi-api.md 2.8) the model may call
    keep: bool = True  # False: a one-off question (web_search), kept in no conversation
    json_schema: dict[str, Any] | None = None  # the answer must match it (structured output)
    reasoning_effort: str | None = None  # kimi-k3 only; None: the conversation's, else Kimi's


@dataclass(frozen=True)
class Stored:
    """Whether the turn was kept, and why not."""

    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class ChatAnswer:
    """What one ask produced, complete or not; the MCP face turns it into the tool's result."""

    answer: str  # with the prefix in front, capped at answer_cap (as is the reasoning)
    model: str
    finish_reason: str | None
    truncated_reason: TruncatedReason | None
    reasoning: str | None
    usage: Usage | None
    conversation_id: str
    dropped_turns: int
    file_ids: list[str]
    stored: bool = True  # False: the answer was returned but not kept in the conversation
    store_error: str | None = None
    upstream_error: str | None = None  # what Kimi reported when it stopped the answer early
    cost: Cost | None = None  # estimated from usage; None with cost_note saying why
    cost_note: str | None = None
    tool_calls: list[ToolRun] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)  # the links the answer cites
    rounds: int = 0  # tool rounds run
    searches: int = 0  # web searches run (each charged)
    json_value: Any = None  # the answer parsed (json_mode or json_schema) and valid
    json_error: str | None = None  # why json_value is None when JSON was asked for
    cache_reset: bool = False  # reasoning_effort changed, so Kimi's prompt cache started over

    @property
    def truncated(self) -> bool:
        """The answer is incomplete (a cut reasoning alone leaves the answer whole)."""
        return self.truncated_reason not in (None, "reasoning_size")
