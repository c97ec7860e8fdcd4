"""Bodies of the emulator's wire faults that a real upstream or proxy can produce but that the
documented API never does: keep-alive-only streams, error events mid-stream, exotic SSE
framing, raw bodies and huge bodies. Plain bytes in, bytes out: no Kimi knowledge here.
"""

import json

PING = b": ping\n\n"
PINGS = 100_000  # "forever" for a test: one shared bytes object, so the list costs ~1 MiB
HUGE_PIECE = b"x" * (1024 * 1024)


def huge_json(size: int) -> list[bytes]:
    """A `{"data":"xxx…"}` body of exactly `size` bytes (at least 11), in 1 MiB pieces that
    share one buffer: a 200 MB body costs the emulator 1 MiB."""
    head, tail = b'{"data":"', b'"}'
    filler = max(size - len(head) - len(tail), 0)
    whole, rest = divmod(filler, len(HUGE_PIECE))
    return [head, *[HUGE_PIECE] * whole, HUGE_PIECE[:rest], tail]


def error_event(error_type: str | None, message: str) -> bytes:
    """An in-stream error as OpenAI-style proxies send it (kimi-api.md 2.2: undocumented)."""
    body = {"error": {"type": error_type or "server_error", "message": message}}
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def reframe(event: bytes, number: int) -> bytes:
    """One `data: <json>\\n\\n` event in legal but unusual SSE framing: CRLF line ends, a comment,
    `event:`/`id:`/`retry:` fields, and the JSON split over two `data:` lines (joined by a
    newline, which JSON allows between tokens)."""
    payload = event.removeprefix(b"data: ").rstrip(b"\n")
    lines = [b": framing variant", b"event: message", b"id: %d" % number, b"retry: 1000"]
    if payload.startswith(b"{"):
        lines += [b"data: {", b"data:" + payload[1:]]  # the second without the optional space
    else:
        lines.append(b"data: " + payload)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def bytewise(body: bytes) -> list[bytes]:
    """One byte per write: multi-byte UTF-8 characters arrive split across TCP segments."""
    return [body[i : i + 1] for i in range(len(body))]
