"""What the emulated model says, and the chat bodies that carry it (kimi-api.md sections 2.2,
6.2 and 6.3).
"""

import json
import time
from dataclasses import dataclass
from typing import Any

from kimi_mcp.emulator.catalogue import text_tokens
from kimi_mcp.emulator.chat_rules import ChatRequest
from kimi_mcp.emulator.schema_answer import schema_answer

Events = list[tuple[str, bytes]]  # SSE events tagged head, reasoning, content or tail


@dataclass(frozen=True)
class Answer:
    """What the emulated model says, already cut to fit `max_tokens`."""

    content: str
    reasoning: str | None
    finish_reason: str
    completion_tokens: int
    tool_calls: tuple[dict[str, Any], ...] = ()


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
    if chat.schema is not None:
        content = schema_answer(chat.schema, last_user_text(chat.messages))
    for word in chat.stop:
        content = content.split(word, 1)[0]  # the matched stop text is not output
    # max_tokens bounds reasoning and answer together, reasoning first (section 2.2).
    budget = chat.limit if chat.limit is not None else 1 << 62
    thought = _thought(chat)
    reasoning, used = _fit(thought, budget)
    kept, used_content = _fit(content, budget - used)
    finish = "length" if (kept, reasoning) != (content, thought) else "stop"
    return Answer(kept, reasoning if chat.thinking else None, finish, used + used_content)


def compose_calls(sentence: str, calls: list[dict[str, Any]], chat: ChatRequest) -> Answer:
    """A tool-call turn: reasoning first (with thinking on), a short sentence, the calls. One that
    does not fit `max_tokens` is cut like any answer and calls nothing (finish `length`)."""
    budget = chat.limit if chat.limit is not None else 1 << 62
    reasoning, used = _fit(_thought(chat), budget)
    function = [c["function"] for c in calls]
    needed = text_tokens(sentence) + sum(text_tokens(f["name"] + f["arguments"]) for f in function)
    if used + needed > budget:
        kept, used_content = _fit(sentence, budget - used)
        return Answer(kept, reasoning if chat.thinking else None, "length", used + used_content)
    thought = reasoning if chat.thinking else None
    return Answer(sentence, thought, "tool_calls", used + needed, tuple(calls))


def _thought(chat: ChatRequest) -> str:
    return f"Thinking about: {last_user_text(chat.messages)[:60]}" if chat.thinking else ""


def _fit(text: str, budget: int) -> tuple[str, int]:
    """The longest head of `text` within `budget` tokens, and its token count."""
    if text_tokens(text) > budget:
        text = text.encode()[: max(budget, 0) * 4].decode(errors="ignore")
    return text, text_tokens(text)


def dumps(data: Any) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate a client sent back: escaped, as JSON allows
        return json.dumps(data, separators=(",", ":")).encode()


def _head(cid: str, kind: str, model: str) -> dict[str, Any]:
    return {"id": cid, "object": kind, "created": int(time.time()), "model": model}


def chat_completion(cid: str, model: str, answer: Answer, usage: dict[str, int]) -> dict[str, Any]:
    """The non-streaming body of section 6.2."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.reasoning is not None:
        message["reasoning_content"] = answer.reasoning
    if answer.tool_calls:
        message["tool_calls"] = list(answer.tool_calls)
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
    # Tagged content too, so that a fault cutting a stream after N chunks can cut a call apart.
    events += [("content", chunk({"tool_calls": [d]})) for d in call_deltas(answer, size)]
    events.append(("tail", chunk({}, answer.finish_reason, usage=usage)))
    if with_usage:
        events.append(("tail", sse(head | {"choices": [], "usage": usage})))
    return [*events, ("tail", b"data: [DONE]\n\n")]


def call_deltas(answer: Answer, size: int) -> list[dict[str, Any]]:
    """The tool-call deltas of section 2.2: first `index`, `id`, `type`, `function.name` and empty
    `arguments`, then `index` and an `arguments` fragment; every call in at least two fragments,
    the calls of one turn interleaved (call 0, call 1, call 0...) so that assembly by `index` is
    really needed."""
    pieces: list[list[dict[str, Any]]] = []
    for index, call in enumerate(answer.tool_calls):
        name, arguments = call["function"]["name"], call["function"]["arguments"]
        head = {"index": index, "id": call["id"], "type": call["type"]}
        first = head | {"function": {"name": name, "arguments": ""}}
        step = max(1, min(size, -(-len(arguments) // 2)))
        rest = [
            {"index": index, "function": {"arguments": arguments[i : i + step]}}
            for i in range(0, len(arguments), step)
        ]
        pieces.append([first, *rest])
    longest = max((len(p) for p in pieces), default=0)
    return [p[k] for k in range(longest) for p in pieces if k < len(p)]


def sse(data: Any) -> bytes:
    return b"data: " + dumps(data) + b"\n\n"
