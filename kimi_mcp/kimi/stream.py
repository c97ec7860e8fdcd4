"""Reading Kimi's chat SSE stream into one ChatOutcome, tolerant of the documented quirks."""

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from kimi_mcp.errors import UpstreamMalformedError
from kimi_mcp.kimi.policy import error_from_event
from kimi_mcp.kimi.types import Usage

# Characters of answer plus reasoning one stream may accumulate; Kimi's longest answers are
# about a million characters, so reaching this means a broken upstream, not a long answer.
MAX_STREAM_CHARS = 16 * 1024 * 1024

# "size" and "reasoning_size" are set by the ask pipeline's answer_cap, and "tool_rounds" by its
# tool loop (max_tool_rounds), not by the stream.
TruncatedReason = Literal[
    "length",
    "deadline",
    "stream_cut",
    "size",
    "content_filter",
    "upstream_malformed",
    "reasoning_size",
    "tool_rounds",
]
Phase = Literal["waiting", "thinking", "answering"]
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class ChatOutcome:
    """What one chat completion produced, complete or not."""

    model: str
    content: str
    reasoning: str
    finish_reason: str | None
    usage: Usage | None
    truncated_reason: TruncatedReason | None
    error: str | None = None  # what Kimi reported when it stopped the answer early
    # The calls the model asked for (finish_reason "tool_calls"), assembled from their deltas:
    # {"id", "type", "function": {"name", "arguments": <JSON text>}}, in index order.
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


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
    calls: dict[int, "CallParts"] = field(default_factory=dict)  # tool-call deltas by index
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
        """Output was generated (and billed): the stream is never tried again."""
        return bool(self.content_parts or self.reasoning_parts or self.calls)

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
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            raise malformed("not JSON") from None
        self._absorb(_object(chunk, "the chunk"))
        return False

    def _absorb(self, chunk: dict[str, Any]) -> None:
        """Every field we read is checked for its type: a wrong one is Kimi's fault, reported as
        upstream_malformed, never a crash of ours."""
        if chunk.get("error") is not None and "choices" not in chunk:  # `"error": null`: none
            raise error_from_event(chunk, secrets=self.secrets)
        if isinstance(chunk.get("model"), str):
            self.model = chunk["model"]
        choices = _array(chunk.get("choices"), "choices")
        choice = _object(choices[0], "choices[0]") if choices else {}
        # Usage sits in choices[0] (Kimi's long-standing place) or at chunk level: take either.
        self._take_usage(chunk.get("usage") or choice.get("usage"))
        delta = _object(choice.get("delta"), "delta")
        self._take_text(self.reasoning_parts, _text(delta.get("reasoning_content"), "reasoning"))
        self._take_text(self.content_parts, _text(delta.get("content"), "content"))
        for raw in _array(delta.get("tool_calls"), "tool_calls"):
            self._take_call(_object(raw, "a tool call delta"))
        finish = _text(choice.get("finish_reason"), "finish_reason")
        if finish:
            self.finish_reason = finish

    def _take_text(self, parts: list[str], text: str) -> None:
        if text:
            parts.append(text)
            self.deltas += 1
            self.chars += len(text)

    def _take_call(self, delta: dict[str, Any]) -> None:
        """A tool-call delta: the first of a call names it, the later ones (same `index`) carry
        pieces of its JSON arguments (kimi-api.md 2.2)."""
        index = delta.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            raise malformed("a tool call delta without an integer index")
        call = self.calls.setdefault(index, CallParts())
        function = _object(delta.get("function"), "a tool call's function")
        call.id = call.id or _text(delta.get("id"), "a tool call id")
        call.name = call.name or _text(function.get("name"), "a tool call's name")
        piece = _text(function.get("arguments"), "a tool call's arguments")
        if piece:
            call.arguments.append(piece)
            self.chars += len(piece)
        self.deltas += 1

    def _take_usage(self, raw: object) -> None:
        if raw is None:
            return
        # A null field is a field Kimi did not fill: its default (0), not a broken usage.
        given = {name: value for name, value in _object(raw, "usage").items() if value is not None}
        try:
            self.usage = Usage.model_validate(given).normalised()
        except (ValidationError, RecursionError):
            raise malformed("a usage object of an unknown shape") from None

    def outcome(self, cut: TruncatedReason | None = None, error: str | None = None) -> ChatOutcome:
        """The result so far; `cut` names why reading stopped early, if it did, and `error`
        what Kimi reported then."""
        calls = [self.calls[index].message() for index in sorted(self.calls)]
        unusable = _unanswerable(calls)
        if unusable and cut is None and self.done:  # its calls cannot be run nor answered
            cut, error = "upstream_malformed", str(malformed(unusable))
        return ChatOutcome(
            model=self.model,
            content=joined(self.content_parts),
            reasoning=joined(self.reasoning_parts),
            finish_reason=self.finish_reason,
            usage=self.usage,
            truncated_reason=cut or self._natural_truncation(),
            error=error,
            tool_calls=calls,
        )

    def _natural_truncation(self) -> TruncatedReason | None:
        if not self.done:
            return "stream_cut"
        if self.finish_reason == "length":
            return "length"
        if self.finish_reason == "content_filter":
            return "content_filter"
        return None


@dataclass
class CallParts:
    """One tool call being assembled from its stream deltas."""

    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def message(self) -> dict[str, Any]:
        """The call as Kimi wants it back in the assistant message (arguments unchanged)."""
        function = {"name": self.name, "arguments": joined(self.arguments)}
        return {"id": self.id, "type": "function", "function": function}


def _unanswerable(calls: list[dict[str, Any]]) -> str | None:
    """Why Kimi could not pair tool messages with these calls, if it could not: each tool
    message names its call by id, so an id must be there and unique (kimi-api.md 2.8)."""
    ids = Counter(str(call["id"]) for call in calls)
    if "" in ids:
        return "a tool call without an id"
    repeated = next((call_id for call_id, seen in ids.items() if seen > 1), None)
    return None if repeated is None else f"two tool calls with the id {repeated[:60]!r}"


def malformed(what: str) -> UpstreamMalformedError:
    return UpstreamMalformedError(
        # Said next to a partial answer too: asking again is a new, billed call.
        f"Kimi sent a malformed stream chunk ({what}), so kimi-mcp stopped reading; asking "
        "again may help (a new call, billed again)."
    )


def _object(value: object, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise malformed(f"{what} is a JSON {_json_kind(value)}, not an object")
    return value


def _array(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise malformed(f"{what} is a JSON {_json_kind(value)}, not an array")
    return value


def _text(value: object, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise malformed(f"{what} is a JSON {_json_kind(value)}, not a string")
    return value


def _json_kind(value: object) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def joined(parts: list[str]) -> str:
    """The deltas as one text. Kimi may send a character outside the BMP as two JSON escapes in
    two events (`\\ud83d`, then `\\ude00`): the pair is joined into one character here; a
    surrogate without its partner is kept as it is (never an exception)."""
    text = "".join(parts)
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
