"""Structured tool results: each becomes a tool's outputSchema and its structuredContent."""

import json
import re
from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, Field

from kimi_mcp.ask.exchange import ChatAnswer
from kimi_mcp.ask.pricing import Cost
from kimi_mcp.ask.sources import Source
from kimi_mcp.ask.tool_loop import ToolRun
from kimi_mcp.kimi.stream import TruncatedReason

LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a str holds a pair as one code point


def wire_safe(text: str) -> str:
    """`text` as JSON-RPC can carry it: a lone surrogate (Kimi streams can hold one) becomes
    U+FFFD here; the conversation store keeps the exact text."""
    return LONE_SURROGATE.sub("\ufffd", text)


class UsageResult(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int = Field(description="Prompt tokens served from Kimi's cache (cheaper).")


class CostBreakdownResult(BaseModel):
    input_cached: float
    input: float
    output: float
    tools: float


class CostResult(BaseModel):
    amount: float
    currency: str
    estimated: bool = Field(description="Always true; Kimi's bill is authoritative.")
    breakdown: CostBreakdownResult

    @classmethod
    def of(cls, cost: Cost) -> "CostResult":
        return cls(
            amount=cost.amount,
            currency=cost.currency,
            estimated=cost.estimated,
            breakdown=CostBreakdownResult(**asdict(cost.breakdown)),
        )


class ToolCallResult(BaseModel):
    name: str
    formula: str | None
    arguments: dict[str, Any] | None = Field(description="null: not JSON.")
    status: Literal["ok", "error"]
    error: str | None

    @classmethod
    def of(cls, run: ToolRun) -> "ToolCallResult":
        arguments = run.arguments
        if arguments is not None:  # the model wrote them: a lone surrogate would stop stdio
            arguments = json.loads(wire_safe(json.dumps(arguments, ensure_ascii=False)))
        error = wire_safe(run.error) if run.error else None
        return cls(
            name=wire_safe(run.name),
            formula=run.formula,
            arguments=arguments,
            status=run.status,
            error=error,
        )


class SourceResult(BaseModel):
    url: str
    title: str | None

    @classmethod
    def all_of(cls, sources: list[Source]) -> list["SourceResult"]:
        return [
            cls(url=wire_safe(s.url), title=wire_safe(s.title) if s.title else None)
            for s in sources
        ]


class ChatResult(BaseModel):
    answer: str = Field(description="Kimi's answer (with the prefix in front when one was given).")
    model: str
    finish_reason: str | None = Field(
        description="Kimi's finish_reason; null if the stream was cut."
    )
    truncated: bool = Field(
        description="True when the answer is incomplete: never treat it as final."
    )
    truncated_reason: TruncatedReason | None = Field(
        description="length: hit max_tokens; deadline: the deadline passed; stream_cut: the "
        "stream ended early; size: over answer_cap (kept whole in kimi://conversations/{id}); "
        "content_filter: moderation; upstream_malformed: Kimi sent an invalid chunk; "
        "reasoning_size: only the reasoning was capped; tool_rounds: max_tool_rounds reached."
    )
    upstream_error: str | None = Field(
        description="What Kimi reported when it stopped the answer early; null otherwise."
    )
    reasoning: str | None = Field(
        description="The model's thinking, when it thought (capped like the answer)."
    )
    usage: UsageResult | None = Field(description="Token usage as Kimi reported it; null if cut.")
    conversation_id: str = Field(description="Pass back to continue this conversation.")
    dropped_turns: int = Field(description="Oldest messages left out to fit the model's window.")
    file_ids: list[str] = Field(description="Documents Kimi read for this answer.")
    stored: bool = Field(
        description="False: this turn is not in the conversation (see store_error)."
    )
    store_error: str | None = Field(description="Why the turn was not kept; null when stored.")
    cost: CostResult | None = Field(description="Estimated from usage; null: see cost_note.")
    cost_note: str | None = Field(description="Why cost is null.")
    tool_calls: list[ToolCallResult] = Field(description="Calls of kimi_tools, in order.")
    sources: list[SourceResult] = Field(description="Links the answer cites, each once.")
    rounds: int = Field(description="Tool-call rounds run.")
    # Aliased: a field named `json` would shadow BaseModel.json.
    json_value: Any = Field(alias="json", description="The parsed answer; null: see json_error.")
    json_error: str | None = Field(description="Why json is null.")
    cache_reset: bool = Field(description="Effort changed: Kimi's prompt cache restarted.")

    @classmethod
    def of(cls, answer: ChatAnswer) -> "ChatResult":
        usage = answer.usage
        return cls(
            answer=wire_safe(answer.answer),
            model=wire_safe(answer.model),
            finish_reason=answer.finish_reason,
            truncated=answer.truncated,
            truncated_reason=answer.truncated_reason,
            upstream_error=wire_safe(answer.upstream_error) if answer.upstream_error else None,
            reasoning=wire_safe(answer.reasoning) if answer.reasoning else None,
            usage=UsageResult(**usage.model_dump()) if usage else None,
            conversation_id=answer.conversation_id,
            dropped_turns=answer.dropped_turns,
            file_ids=answer.file_ids,
            stored=answer.stored,
            store_error=answer.store_error,
            cost=CostResult.of(answer.cost) if answer.cost else None,
            cost_note=answer.cost_note,
            tool_calls=[ToolCallResult.of(run) for run in answer.tool_calls],
            sources=SourceResult.all_of(answer.sources),
            rounds=answer.rounds,
            json=answer.json_value,
            json_error=answer.json_error,
            cache_reset=answer.cache_reset,
        )


class WebSearchResult(BaseModel):
    answer: str = Field(description="Kimi's answer, citing its sources as links.")
    sources: list[SourceResult] = Field(description="Links the answer cites, each once.")
    searches: int = Field(description="Web searches run (each charged).")
    truncated_reason: TruncatedReason | None = Field(description="As ask_kimi's; null: whole.")
    model: str
    usage: UsageResult | None
    cost: CostResult | None = Field(description="Estimated; null: see cost_note.")
    cost_note: str | None

    @classmethod
    def of(cls, answer: ChatAnswer) -> "WebSearchResult":
        chat = ChatResult.of(answer)
        return cls(
            answer=chat.answer,
            sources=chat.sources,
            searches=answer.searches,
            truncated_reason=chat.truncated_reason,
            model=chat.model,
            usage=chat.usage,
            cost=chat.cost,
            cost_note=chat.cost_note,
        )


class ModelEntry(BaseModel):
    id: str
    context_length: int = Field(description="Context window in tokens (0 if Kimi did not say).")
    supports_image_in: bool
    supports_video_in: bool
    supports_reasoning: bool


class ModelsResult(BaseModel):
    models: list[ModelEntry]
    default_model: str = Field(description="The model ask_kimi uses when none is given.")


class FileEntry(BaseModel):
    id: str
    filename: str
    bytes: int
    purpose: str
    status: str
    created_at: int = Field(description="Unix time of the upload.")


class UploadResult(BaseModel):
    id: str
    filename: str
    bytes: int
    purpose: str
    status: str
    sha256: str = Field(description="SHA-256 of the uploaded bytes.")
    reused: bool = Field(description="True when Kimi already had these bytes: nothing was sent.")


class ReadFileResult(BaseModel):
    file_id: str
    filename: str
    content: str = Field(description="This page of the extracted text.")
    offset: int
    total_chars: int
    next_offset: int | None = Field(description="Pass as offset to read on; null at the end.")


class FilesResult(BaseModel):
    files: list[FileEntry]
    count: int


class DeleteResult(BaseModel):
    id: str
    deleted: bool


class TokenEstimate(BaseModel):
    model: str
    total_tokens: int = Field(description="Kimi's own count of the input.")
    context_length: int
    remaining: int = Field(description="context_length minus total_tokens: room for the answer.")


class BalanceResult(BaseModel):
    available_balance: float = Field(description="cash + voucher; calls fail when it is <= 0.")
    voucher_balance: float
    cash_balance: float = Field(description="May be negative (debt).")
    currency: Literal["USD", "CNY"]
    spent_today: float = Field(description="This server's estimated spend, UTC day.")


class ConversationEntry(BaseModel):
    conversation_id: str
    model: str
    turns: int = Field(description="Messages kept (questions and answers).")
    updated_at: str = Field(description="Time of the last turn, ISO 8601 UTC.")
    first_prompt: str = Field(description="The first question, cut at 120 characters.")


class ConversationsResult(BaseModel):
    conversations: list[ConversationEntry] = Field(description="Newest first.")
    count: int


class ConversationDeleted(BaseModel):
    conversation_id: str
    deleted: bool
