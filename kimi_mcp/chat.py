"""ask_kimi's work, apart from MCP: build the messages, stream the answer, make it honest."""

from dataclasses import dataclass
from typing import Any

import anyio

from kimi_mcp.catalogue import ModelCatalogue
from kimi_mcp.client import KimiClient, ProgressHook
from kimi_mcp.errors import InputError
from kimi_mcp.results import ChatResult, UsageResult
from kimi_mcp.rules import chat_body
from kimi_mcp.stream import ChatOutcome


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


@dataclass(frozen=True)
class ChatService:
    client: KimiClient
    catalogue: ModelCatalogue
    default_model: str
    default_deadline: float
    answer_cap: int

    async def ask(self, request: ChatRequest, on_progress: ProgressHook | None) -> ChatResult:
        deadline = anyio.current_time() + (request.deadline or self.default_deadline)
        if request.json_mode and request.prefix:
            raise InputError(
                "json_mode and prefix cannot be combined (Kimi rejects partial mode with JSON "
                "mode); drop one of them."
            )
        model = await self.catalogue.get(request.model or self.default_model, deadline=deadline)
        body = chat_body(
            model,
            _messages(request),
            thinking=request.thinking,
            max_tokens=request.max_tokens,
            json_mode=request.json_mode,
        )
        outcome = await self.client.stream_chat(body, deadline=deadline, on_progress=on_progress)
        return self._result(outcome, request.prefix or "")

    def _result(self, outcome: ChatOutcome, prefix: str) -> ChatResult:
        # Partial mode: Kimi does not repeat the prefix, so the answer is prefix + continuation.
        answer = prefix + outcome.content
        reason = outcome.truncated_reason
        if len(answer) > self.answer_cap:
            answer = answer[: self.answer_cap]
            reason = reason or "size"
        usage = outcome.usage
        return ChatResult(
            answer=answer,
            model=outcome.model,
            finish_reason=outcome.finish_reason,
            truncated=reason is not None,
            truncated_reason=reason,
            reasoning=outcome.reasoning or None,
            usage=UsageResult(**usage.model_dump()) if usage else None,
        )


def _messages(request: ChatRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": request.prompt})
    if request.prefix:
        messages.append({"role": "assistant", "content": request.prefix, "partial": True})
    return messages
