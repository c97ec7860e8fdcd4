"""What the emulated model says, and the chat bodies that carry it (kimi-api.md sections 2.2,
6.2 and 6.3).
"""

import json
import time
from dataclasses import dataclass
from typing import Any

from kimi_mcp.emulator.catalogue import text_tokens
from kimi_mcp.emulator.chat_rules import ChatRequest

Events = list[tuple[str, bytes]]  # SSE events tagged head, reasoning, content or tail


@dataclass(frozen=True)
class Answer:
    """What the emulated model says, already cut to fit `max_tokens`."""

    content: str
    reasoning: str | None
    finish_reason: str
    completion_tokens: int


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message (text parts joined by spaces)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            parts = content if isinstance(content, list) else [{"text": content}]
            return " ".join(p["text"] for p in parts if isinstance(p.get("text"), str))
    return ""


def compose(text: str, chat: ChatRequest) -> Answer:
    """Shape the answer text like Kimi: partial continuation, JSON mode, stop strings, length."""
    last = chat.messages[-1]
    prefix = last.get("content") if last.get("partial") else None
    if isinstance(prefix, str) and text.startswith(prefix):
        text = text[len(prefix) :]  # partial mode continues the prefix and never repeats it
    content = json.dumps({"answer": text}, ensure_ascii=False) if chat.json_out else text
    for word in chat.stop:
        content = content.split(word, 1)[0]  # the matched stop text is not output
    # max_tokens bounds reasoning and answer together, reasoning first (section 2.2).
    budget = chat.limit if chat.limit is not None else 1 << 62
    thought = f"Thinking about: {last_user_text(chat.messages)[:60]}" if chat.thinking else ""
    reasoning, used = _fit(thought, budget)
    kept, used_content = _fit(content, budget - used)
    finish = "length" if (kept, reasoning) != (content, thought) else "stop"
    return Answer(kept, reasoning if chat.thinking else None, finish, used + used_content)


def _fit(text: str, budget: int) -> tuple[str, int]:
    """The longest head of `text` within `budget` tokens, and its token count."""
    if text_tokens(text) > budget:
        text = text.encode()[: max(budget, 0) * 4].decode(errors="ignore")
    return text, text_tokens(text)


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _head(cid: str, kind: str, model: str) -> dict[str, Any]:
    return {"id": cid, "object": kind, "created": int(time.time()), "model": model}


def chat_completion(cid: str, model: str, answer: Answer, usage: dict[str, int]) -> dict[str, Any]:
    """The non-streaming body of section 6.2."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.reasoning is not None:
        message["reasoning_content"] = answer.reasoning
    choice = {"index": 0, "message": message, "finish_reason": answer.finish_reason}
    return _head(cid, "chat.completion", model) | {"choices": [choice], "usage": usage}


def chat_events(
    cid: str, model: str, answer: Answer, usage: dict[str, int], size: int, with_usage: bool
) -> Events:
    """The SSE events of section 6.3: role, reasoning, content, then the finish chunk with usage
    inside choices[0], the OpenAI-style usage chunk if `with_usage`, and [DONE]."""
    head = _head(cid, "chat.completion.chunk", model)
    # With include_usage every chunk but the extra last one carries "usage": null (6.3(d)).
    tail: dict[str, Any] = {"usage": None} if with_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return sse(
            head
            | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish} | extra]}
            | tail
        )

    reasoning, content = answer.reasoning or "", answer.content
    events = [("head", chunk({"role": "assistant", "content": ""}))]
    events += [
        ("reasoning", chunk({"reasoning_content": reasoning[i : i + size]}))
        for i in range(0, len(reasoning), size)
    ]
    events += [
        ("content", chunk({"content": content[i : i + size]})) for i in range(0, len(content), size)
    ]
    events.append(("tail", chunk({}, answer.finish_reason, usage=usage)))
    if with_usage:
        events.append(("tail", sse(head | {"choices": [], "usage": usage})))
    return [*events, ("tail", b"data: [DONE]\n\n")]


def sse(data: Any) -> bytes:
    return b"data: " + dumps(data) + b"\n\n"
