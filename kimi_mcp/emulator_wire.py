"""The emulator's wire layer: faults, the answer and its bodies, and paced responses.

Shapes follow kimi-api.md sections 2.2, 4, 6.2, 6.3, 6.7 and 6.8.
"""

import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack, get_args

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from kimi_mcp import emulator_faults as faults
from kimi_mcp.emulator_catalogue import ORG, ChatRequest, text_tokens

CHAT_PATH = "/v1/chat/completions"
JSON_TYPE = "application/json; charset=utf-8"
SSE_TYPE = "text/event-stream; charset=utf-8"
OVERLOADED = "The engine is currently overloaded, please try again later"
SUSPENDED = f"Your account {ORG} is suspended, please check your plan and billing details"
HIGH_RISK = "The request was rejected because it was considered high risk"
FaultKind = Literal[
    "error",
    "slow",
    "cut_stream",
    "reset",
    "redirect",
    "drip",
    "malformed_stream",
    "huge_body",
    "raw",
    "ping_stream",
    "stream_error",
    "framing",
]
ANSWERING_KINDS = ("error", "redirect", "raw")  # these replace the response entirely
# Section 4: 500 has two documented bodies, 503 a type without text, 502/504 come from nginx.
SERVER_ERRORS: dict[int, tuple[str | None, str]] = {
    500: ("unexpected_output", "invalid state transition"),
    502: (None, "Bad Gateway"),
    503: ("server_unavailable", "The service is temporarily unavailable, please try again later"),
    504: (None, "Gateway Time-out"),
}
Events = list[tuple[str, bytes]]  # SSE events tagged head, reasoning, content or tail


class Target(TypedDict, total=False):
    """Which requests a preset fault applies to (the Fault fields of the same names)."""

    path: str
    method: str | None
    times: int


@dataclass(frozen=True)
class Fault:
    """A misbehaviour for the next `times` requests matching `path` ("*" = any) and `method`.

    "error" answers `status` with Kimi's error body (`error_type` None: an nginx HTML page);
    "redirect" answers 307 (or `status`, when 3xx) to `location`; "raw" answers `status` with
    `body` as it is (broken JSON, an HTML page, nothing, a wrong shape; add
    `Content-Encoding` in `headers` for a garbled encoding).
    The others shape the normal answer: "slow" waits `delay` before answering (between events
    for a stream); "drip" sends the body one byte per `delay`; "cut_stream" ends the body cleanly
    after `after_chunks` content chunks (a non-stream body after half its bytes); "reset" drops
    the connection at the same point; "malformed_stream" slips a `data: {not json` event in
    right after the role chunk, before any text (a non-stream body becomes `{not json`);
    "huge_body" replaces the body with a chunked JSON body of `size` bytes. Streams only:
    "ping_stream" sends nothing but `: ping` comments, one per `delay`, until the client
    leaves; "stream_error" sends `{"error": {error_type, message}}` as an event after
    `after_chunks` content chunks and ends without [DONE]; "framing" sends the stream with
    CRLF, comments, `event:`/`id:`/`retry:` lines and two-line `data:`, one byte per write.
    `headers` are added to the answer in every case.
    """

    kind: FaultKind
    path: str = CHAT_PATH
    method: str | None = None
    times: int = 1
    status: int = 500
    error_type: str | None = "server_error"
    message: str = "Emulated server error"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    after_chunks: int = 1
    location: str = "http://127.0.0.1:9/elsewhere"
    size: int = 0
    body: str = ""

    def __post_init__(self) -> None:
        if self.kind not in get_args(FaultKind) or self.times < 1:
            raise ValueError(f"bad fault: kind {self.kind!r}, times {self.times}")

    def matches(self, method: str, path: str) -> bool:
        return self.path in ("*", path) and (self.method or method).upper() == method.upper()

    @classmethod
    def engine_overloaded(cls, retry_after: float | None = None, **to: Unpack[Target]) -> "Fault":
        """429 `engine_overloaded_error`, with `Retry-After` when `retry_after` is given."""
        return _error(429, "engine_overloaded_error", OVERLOADED, to, retry_after)

    @classmethod
    def rate_limit(
        cls,
        kind: Literal["rpm", "concurrency", "tpm", "tpd"],
        retry_after: float | None = None,
        **to: Unpack[Target],
    ) -> "Fault":
        """429 `rate_limit_reached_error` with the section 4 message of the given limit."""
        wait = 1 if retry_after is None else retry_after
        again = f"please try again after {int(wait) if wait == int(wait) else wait} seconds"
        messages = {
            "rpm": f"max RPM: 3, {again}",
            "concurrency": f"max concurrency: 1, {again}",
            "tpm": "TPM rate limit, current:510000, limit:500000",
            "tpd": "TPD rate limit,current:1500001, limit:1500000",
        }
        message = f"Your account {ORG} request reached organization {messages[kind]}"
        return _error(429, "rate_limit_reached_error", message, to, retry_after)

    @classmethod
    def quota(cls, **to: Unpack[Target]) -> "Fault":
        """429 `exceeded_current_quota_error` (account suspended; never worth a retry)."""
        return _error(429, "exceeded_current_quota_error", SUSPENDED, to)

    @classmethod
    def server_error(
        cls, status: Literal[500, 502, 503, 504] = 500, **to: Unpack[Target]
    ) -> "Fault":
        """A 5xx: 500/503 as Kimi's JSON body, 502/504 as nginx's HTML page."""
        return _error(status, *SERVER_ERRORS[status], to)

    @classmethod
    def content_filter(cls, **to: Unpack[Target]) -> "Fault":
        """400 `content_filter`: input or output tripped moderation."""
        return _error(400, "content_filter", HIGH_RISK, to)


def _error(
    status: int, error_type: str | None, message: str, to: Target, retry: float | None = None
) -> Fault:
    headers = {}
    if retry is not None:  # whole seconds, plus milliseconds when the wait is fractional
        headers["Retry-After"] = str(math.ceil(retry))
        if retry != int(retry):
            headers["retry-after-ms"] = str(round(retry * 1000))
    return Fault(
        "error", status=status, error_type=error_type, message=message, headers=headers, **to
    )


PRESETS: dict[str, Callable[[float | None, Target], Fault]] = {
    "engine_overloaded": lambda retry, to: Fault.engine_overloaded(retry, **to),
    "rate_limit_rpm": lambda retry, to: Fault.rate_limit("rpm", retry, **to),
    "rate_limit_concurrency": lambda retry, to: Fault.rate_limit("concurrency", retry, **to),
    "rate_limit_tpm": lambda retry, to: Fault.rate_limit("tpm", retry, **to),
    "rate_limit_tpd": lambda retry, to: Fault.rate_limit("tpd", retry, **to),
    "quota": lambda _, to: Fault.quota(**to),
    "content_filter": lambda _, to: Fault.content_filter(**to),
    "server_error": lambda _, to: Fault.server_error(500, **to),
    "server_error_500": lambda _, to: Fault.server_error(500, **to),
    "server_error_502": lambda _, to: Fault.server_error(502, **to),
    "server_error_503": lambda _, to: Fault.server_error(503, **to),
    "server_error_504": lambda _, to: Fault.server_error(504, **to),
}


def fault_from_json(data: Any) -> Fault:
    """A fault from the admin route: Fault fields, or {"preset": a PRESETS name, "retry_after",
    "path", "times", "method"}."""
    if not isinstance(data, dict):
        raise ValueError("a fault is a JSON object")
    fields: dict[str, Any] = dict(data)
    preset = fields.pop("preset", None)
    if preset is None:
        return Fault(**fields)
    to = Target()
    for key in ("path", "times", "method"):
        if key in fields:
            to[key] = fields.pop(key)
    retry = fields.pop("retry_after", None)
    if fields or preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r} or field(s) {sorted(fields)}")
    return PRESETS[preset](retry, to)


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


@dataclass
class Reply:
    """An answer before faults and pacing: a body, or SSE `events`."""

    status: int = 200
    body: bytes = b""
    media_type: str = JSON_TYPE
    events: Events | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(data: Any, status: int = 200) -> Reply:
    return Reply(status, dumps(data))


def error_reply(status: int, error_type: str, message: str) -> Reply:
    """Kimi's error body (section 4)."""
    return json_reply({"error": {"type": error_type, "message": message}}, status)


def fault_reply(fault: Fault) -> Reply:
    """The whole answer of an "error", "redirect" or "raw" fault."""
    if fault.kind == "redirect":
        status = fault.status if 300 <= fault.status < 400 else 307
        reply = Reply(status, b"", headers={"Location": fault.location})
    elif fault.kind == "raw":
        reply = Reply(fault.status, fault.body.encode(), "text/html; charset=utf-8")
    elif fault.error_type is None:
        title = f"{fault.status} {fault.message}"
        page = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}"
        page += "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        reply = Reply(fault.status, page.encode(), "text/html; charset=utf-8")
    else:
        reply = error_reply(fault.status, fault.error_type, fault.message)
    reply.headers.update(fault.headers)
    return reply


def kimi_headers(uid: str, started: float) -> dict[str, str]:
    """The response headers real answers carry (section 6.8)."""
    took = round((time.monotonic() - started) * 1000)
    trace = {"Msh-Request-Id": str(uuid.uuid4()), "Msh-Uid": uid, "Msh-Gid": "enterprise-tier-5"}
    return (
        trace
        | {"Msh-Trace-Mode": "on", "Msh-Cache": "updated", "Server": "nginx"}
        | {"Server-Timing": f"inner; dur={took}"}
    )


class InjectedReset(Exception):
    """Raised out of a response body so that uvicorn drops the connection mid-body."""


@dataclass(frozen=True)
class Pacing:
    """What a paced body needs from the emulator."""

    gap: Callable[[], float]  # seconds between stream events, read before each one
    on_leave: Callable[[int], None]  # the client closed early, after this many pieces
    stopping: anyio.Event | None  # set when the server shuts down
    count_stream: Callable[[int], None]  # +1 when an SSE answer opens, -1 when it ends


@dataclass(frozen=True)
class Shape:
    """How a body goes out: its pieces, the pause between them (None: `Pacing.gap`), the pause
    before the headers, and whether the connection is dropped instead of ending the body."""

    pieces: list[bytes]
    gap: float | None = 0.0
    first_delay: float = 0.0
    abort: bool = False
    stream: bool = False


def render(reply: Reply, fault: Fault | None, pacing: Pacing, headers: dict[str, str]) -> Response:
    """The Starlette response for `reply`, shaped by a shaping `fault` if one applies."""
    headers = headers | reply.headers | (fault.headers if fault else {})
    if reply.events is not None:
        shape = _shape_stream(reply.events, fault)
    elif fault is None:
        return Response(reply.body, reply.status, headers, reply.media_type)
    else:
        shape, sized = _shape_body(reply.body, fault)
        if sized:  # a body that stops short of its Content-Length is a broken one
            headers |= {"content-length": str(len(reply.body))}
    return PacedResponse(reply.status, headers, reply.media_type, shape, pacing)


def _shape_body(body: bytes, fault: Fault) -> tuple[Shape, bool]:
    half = body[: len(body) // 2]
    if fault.kind == "huge_body":  # chunked: the client learns the size only by reading
        return Shape(faults.huge_json(fault.size)), False
    if fault.kind == "slow":
        return Shape([body], first_delay=fault.delay), True
    if fault.kind == "drip":
        return Shape(faults.bytewise(body), fault.delay), True
    if fault.kind in ("cut_stream", "reset"):  # cut: chunked, so the early clean end is legal
        return Shape([half], abort=fault.kind == "reset"), fault.kind == "reset"
    return Shape([b"{not json"]), False


def _shape_stream(events: Events, fault: Fault | None) -> Shape:
    kind = fault.kind if fault else None
    if fault is not None and kind in ("cut_stream", "reset", "stream_error"):
        events = _until_content(events, fault.after_chunks)
        if kind == "stream_error":
            events.append(("error", faults.error_event(fault.error_type, fault.message)))
    elif kind == "malformed_stream":  # right after the role chunk, before any text
        events = [events[0], ("junk", b"data: {not json\n\n"), *events[1:]]
    pieces = [data for _, data in events]
    if fault is not None and kind == "ping_stream":
        return Shape([faults.PING] * faults.PINGS, fault.delay, stream=True)
    if kind == "framing":
        framed = b"".join(faults.reframe(piece, n) for n, piece in enumerate(pieces))
        return Shape(faults.bytewise(framed), 0.0, stream=True)
    if fault is not None and kind == "drip":
        return Shape(faults.bytewise(b"".join(pieces)), fault.delay, stream=True)
    gap = fault.delay if fault is not None and kind == "slow" else None
    return Shape(pieces, gap, abort=kind == "reset", stream=True)


def _until_content(events: Events, count: int) -> Events:
    """The events up to and including the `count`-th content chunk, never the tail."""
    kept: Events = []
    seen = 0
    for tag, data in events:
        if tag == "tail" or (tag == "content" and seen == count):
            break
        seen += tag == "content"
        kept.append((tag, data))
    return kept


class PacedResponse(Response):
    """A body sent piece by piece with pauses, that notices a client leaving.

    uvicorn (ASGI spec 2.3) silently drops writes to a closed socket, so the only news of a
    client that left is `http.disconnect` from `receive`: a watcher runs beside the writer.
    """

    def __init__(
        self, status: int, headers: dict[str, str], media: str, shape: Shape, pacing: Pacing
    ) -> None:
        self.status_code, self.media_type, self.background = status, media, None
        self.init_headers(headers)
        self.shape, self.pacing = shape, pacing
        self.sent, self.finished, self.left = 0, False, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.pacing.count_stream(self.shape.stream)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._watch_client, receive, group.cancel_scope)
                if self.pacing.stopping is not None:
                    group.start_soon(self._watch_stop, self.pacing.stopping, group.cancel_scope)
                await self._pump(send)
                group.cancel_scope.cancel()
        finally:
            self.pacing.count_stream(-self.shape.stream)
        if self.left:
            self.pacing.on_leave(self.sent)
        elif not self.finished:  # an injected reset, or the server stopping mid-answer
            raise InjectedReset("emulated connection reset")

    async def _pump(self, send: Send) -> None:
        await anyio.sleep(self.shape.first_delay)
        start = {"type": "http.response.start", "status": self.status_code}
        await send(start | {"headers": self.raw_headers})
        for index, piece in enumerate(self.shape.pieces):
            if index:
                gap = self.shape.gap
                await anyio.sleep(self.pacing.gap() if gap is None else gap)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            self.sent += 1
        if not self.shape.abort:
            self.finished = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch_client(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass  # the request body was already read; only the disconnect matters here
        self.left = not self.finished
        scope.cancel()

    async def _watch_stop(self, stopping: anyio.Event, scope: anyio.CancelScope) -> None:
        await stopping.wait()
        scope.cancel()
