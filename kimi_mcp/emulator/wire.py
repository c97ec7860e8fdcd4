"""The emulator's wire layer: an answer as a `Reply`, Kimi's headers, and the Starlette response
that a fault may shape (kimi-api.md sections 4, 6.7 and 6.8).
"""

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from kimi_mcp.emulator import faults
from kimi_mcp.emulator.answer import Events, dumps
from kimi_mcp.emulator.fault_spec import Fault
from kimi_mcp.emulator.pacing import PacedResponse, Pacing, Shape

JSON_TYPE = "application/json; charset=utf-8"
SSE_TYPE = "text/event-stream; charset=utf-8"


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
