"""Raw SSE chat bodies for the emulator's "raw" fault: any stream text, well-formed or not."""

import json

SSE = {"Content-Type": "text/event-stream; charset=utf-8"}
USAGE = {"prompt_tokens": 8, "completion_tokens": 3, "total_tokens": 11, "cached_tokens": 0}


def event(delta: object, finish: str | None = None, **extra: object) -> str:
    """One `data:` event of a chat chunk (json.dumps escapes a lone surrogate as `\\udXXX`)."""
    chunk = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "kimi-k2.6"}
    chunk |= {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(chunk)}\n\n"


ROLE = event({"role": "assistant", "content": ""})
HELLO = event({"content": "Hello "})
STOP = event({}, "stop", usage=USAGE)
DONE = "data: [DONE]\n\n"
STRING_DELTA = 'data: {"choices": [{"index": 0, "delta": "oops"}]}\n\n'
