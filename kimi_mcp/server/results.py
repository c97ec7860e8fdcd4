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
    cached_tokens: int  # prompt tokens served from Kimi's cache (cheaper)


class CostBreakdownResult(BaseModel):
    input_cached: float
    input: float
    output: float
    tools: float


class CostResult(BaseModel):
    amount: float
    currency: str
    estimated: bool  # always true: Kimi's bill is authoritative
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
    arguments: dict[str, Any] | None  # null: the model's arguments were not JSON
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
    # A field is described in the schema only where its name and type leave the model guessing;
    # the others say here what they hold. (A docstring here would become the schema's
    # description, sent in every tools/list.)
    answer: str  # with the prefix in front when one was given
    model: str
    finish_reason: str | None  # Kimi's; null when the stream was cut
    truncated: bool  # true: incomplete, never final (the tool's description says so)
    truncated_reason: TruncatedReason | None = Field(
        description="size: the whole answer is in kimi://conversations/{id}."
    )
    upstream_error: str | None  # what Kimi reported when it stopped the answer early
    reasoning: str | None  # the model's thinking, capped like the answer
    usage: UsageResult | None  # as Kimi reported it; null when the stream was cut
    conversation_id: str  # passed back to continue (the tool's description says so)
    dropped_turns: int = Field(description="Oldest messages left out to fit the window.")
    file_ids: list[str]  # the documents Kimi read for this answer
    stored: bool  # false: this turn is not in the conversation (store_error says why)
    store_error: str | None
    cost: CostResult | None  # estimated from usage; null: cost_note says why
    cost_note: str | None
    tool_calls: list[ToolCallResult]  # calls of kimi_tools, in order
    sources: list[SourceResult]  # links the answer cites, each once
    rounds: int  # tool-call rounds run
    # Aliased: a field named `json` would shadow BaseModel.json.
    json_value: Any = Field(alias="json")  # the parsed answer (json_mode, json_schema)
    json_error: str | None  # why json is null
    cache_reset: bool  # reasoning_effort changed: Kimi's prompt cache restarted

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
    # The fields mean what ask_kimi's of the same name mean (no docstring: see ChatResult).
    answer: str  # citing its sources as Markdown links
    sources: list[SourceResult]
    searches: int  # web searches run, each charged
    truncated_reason: TruncatedReason | None
    model: str
    usage: UsageResult | None
    cost: CostResult | None
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
    context_length: int  # the window in tokens; 0 when Kimi did not say
    supports_image_in: bool
    supports_video_in: bool
    supports_reasoning: bool


class ModelsResult(BaseModel):
    models: list[ModelEntry]
    default_model: str  # what ask_kimi uses when a call names no model


class FileEntry(BaseModel):
    id: str
    filename: str
    bytes: int
    purpose: str
    status: str
    created_at: int  # Unix time of the upload


class UploadResult(BaseModel):
    id: str
    filename: str
    bytes: int
    purpose: str
    status: str
    sha256: str
    reused: bool  # true: Kimi already had these bytes; no second copy was stored


class ReadFileResult(BaseModel):
    file_id: str
    filename: str
    content: str  # this page of the extracted text
    offset: int
    total_chars: int
    next_offset: int | None  # the offset of the next page; null at the end


class FilesResult(BaseModel):
    files: list[FileEntry]
    count: int


class DeleteResult(BaseModel):
    id: str
    deleted: bool


class TokenEstimate(BaseModel):
    model: str
    total_tokens: int  # Kimi's own count of the input
    context_length: int
    remaining: int  # context_length minus total_tokens: room for the answer


class BalanceResult(BaseModel):
    available_balance: float  # cash + voucher: calls fail when it is <= 0
    voucher_balance: float
    cash_balance: float  # negative when the account is in debt
    currency: Literal["USD", "CNY"]
    spent_today: float  # this server's estimated spend, UTC day


class ConversationEntry(BaseModel):
    conversation_id: str
    model: str
    turns: int  # messages kept (questions and answers)
    updated_at: str  # time of the last turn, ISO 8601 UTC
    first_prompt: str  # the first question, cut at 120 characters


class ConversationsResult(BaseModel):
    conversations: list[ConversationEntry]  # newest first
    count: int


class ConversationDeleted(BaseModel):
    conversation_id: str
    deleted: bool
