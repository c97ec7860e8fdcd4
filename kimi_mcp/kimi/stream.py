"""Reading Kimi's chat SSE stream into one ChatOutcome, tolerant of the documented quirks."""

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from kimi_mcp.errors import ResponseValidationError
from kimi_mcp.kimi.policy import error_from_event
from kimi_mcp.kimi.types import Usage

# Characters of answer plus reasoning one stream may accumulate; Kimi's longest answers are
# about a million characters, so reaching this means a broken upstream, not a long answer.
MAX_STREAM_CHARS = 16 * 1024 * 1024

# "size" and "reasoning_size" are set by the ask pipeline's answer_cap, not by the stream.
TruncatedReason = Literal[
    "length", "deadline", "stream_cut", "size", "content_filter", "reasoning_size"
]
Phase = Literal["waiting", "thinking", "answering"]


@dataclass
class ChatOutcome:
    """What one chat completion produced, complete or not."""

    model: str
    content: str
    reasoning: str
    finish_reason: str | None
    usage: Usage | None
    truncated_reason: TruncatedReason | None


@dataclass
class StreamState:
    """Accumulates deltas; `done` is set only by `data: [DONE]` (the docs' completeness rule).

    Lines are assembled into SSE events (data lines joined by newlines, dispatched at a blank
    line), so multi-line `data:` fields and `event:`/`id:`/`retry:` lines are all understood.
    """

    model: str
    secrets: tuple[str, ...] = ()
    max_chars: int = MAX_STREAM_CHARS
    content_parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    done: bool = False
    deltas: int = 0
    events: int = 0  # data events dispatched: what the content-idle watchdog watches
    chars: int = 0
    pending: list[str] = field(default_factory=list)  # data lines of the event being read

    @property
    def phase(self) -> Phase:
        if self.content_parts:
            return "answering"
        return "thinking" if self.reasoning_parts else "waiting"

    @property
    def produced_text(self) -> bool:
        return bool(self.content_parts or self.reasoning_parts)

    @property
    def full(self) -> bool:
        """The size cap is reached: stop reading and return what we have, marked "size"."""
        return self.chars >= self.max_chars

    def feed_line(self, line: str) -> bool:
        """Absorb one SSE line; returns True once `data: [DONE]` was dispatched."""
        if not line:
            return self._dispatch()
        if line.startswith("data:"):
            value = line[5:]
            self.pending.append(value[1:] if value.startswith(" ") else value)
        return False  # comments and `event:`/`id:`/`retry:` fields carry nothing for us

    def _dispatch(self) -> bool:
        if not self.pending:
            return False
        payload, self.pending = "\n".join(self.pending).strip(), []
        self.events += 1
        if payload == "[DONE]":
            self.done = True
            return True
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise ResponseValidationError(
                "Kimi sent a malformed stream chunk; retrying may help."
            ) from None
        if isinstance(chunk, dict):
            self._absorb(chunk)
        return False

    def _absorb(self, chunk: dict[str, Any]) -> None:
        if "error" in chunk and "choices" not in chunk:
            raise error_from_event(chunk, secrets=self.secrets)
        if isinstance(chunk.get("model"), str):
            self.model = chunk["model"]
        choices = chunk.get("choices") or []
        choice = choices[0] if choices and isinstance(choices[0], dict) else {}
        # Usage sits in choices[0] (Kimi's long-standing place) or at chunk level: take either.
        self._take_usage(chunk.get("usage") or choice.get("usage"))
        delta = choice.get("delta") or {}
        if isinstance(delta.get("reasoning_content"), str) and delta["reasoning_content"]:
            self.reasoning_parts.append(delta["reasoning_content"])
            self.deltas += 1
            self.chars += len(delta["reasoning_content"])
        if isinstance(delta.get("content"), str) and delta["content"]:
            self.content_parts.append(delta["content"])
            self.deltas += 1
            self.chars += len(delta["content"])
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])

    def _take_usage(self, raw: object) -> None:
        if not isinstance(raw, dict):
            return
        try:
            self.usage = Usage.model_validate(raw).normalised()
        except ValidationError:
            raise ResponseValidationError("Kimi sent a usage object of an unknown shape.") from None

    def outcome(self, cut: TruncatedReason | None = None) -> ChatOutcome:
        """The result so far; `cut` names why reading stopped early, if it did."""
        return ChatOutcome(
            model=self.model,
            content="".join(self.content_parts),
            reasoning="".join(self.reasoning_parts),
            finish_reason=self.finish_reason,
            usage=self.usage,
            truncated_reason=cut or self._natural_truncation(),
        )

    def _natural_truncation(self) -> TruncatedReason | None:
        if not self.done:
            return "stream_cut"
        if self.finish_reason == "length":
            return "length"
        if self.finish_reason == "content_filter":
            return "content_filter"
        return None
