"""HTTP mechanics under KimiClient: phase timeouts, pool limits, size-capped bodies, SSE lines."""

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx2

from kimi_mcp.errors import APIConnectionError, APITimeoutError, ResponseValidationError
from kimi_mcp.kimi.policy import redact
from kimi_mcp.kimi.stream import StreamState, TruncatedReason

ProgressHook = Callable[[StreamState], Awaitable[None]]

# Per phase (reliability.md 5.4); `read` is the `timeout` setting. The deadline bounds them all:
# `read` alone cannot stop a server that drips one byte at a time.
CONNECT_TIMEOUT = 5.0
WRITE_TIMEOUT = 30.0
POOL_TIMEOUT = 10.0
# Every connection opened is kept alive: with fewer kept than opened, each burst of over 10
# calls in flight reopened connections (7 % of calls at 32 HTTP clients), and against Kimi each
# new one is a TCP and TLS handshake. Idle ones still close after httpx2's 5 s keep-alive expiry.
LIMITS = httpx2.Limits(max_connections=20, max_keepalive_connections=20)
# JSON answers are a few KiB (a full model list is ~10 KiB; file content is the largest);
# anything bigger is a broken upstream, read no further than this.
MAX_BODY_BYTES = 16 * 1024 * 1024
# Exceptions raised before any byte of the request left: always safe to try again.
NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def timeouts(read: float) -> httpx2.Timeout:
    return httpx2.Timeout(
        connect=CONNECT_TIMEOUT, read=read, write=WRITE_TIMEOUT, pool=POOL_TIMEOUT
    )


def json_content(body: Any) -> dict[str, Any]:
    """`body` as the `content` and headers of a JSON request, UTF-8 as httpx2's `json=` sends
    it. Kimi's own JSON may hold a lone surrogate escape (a tool call id, its arguments, an
    answer) that goes back in the next request; UTF-8 cannot carry it, so such a body is sent
    with its `\\udXXX` escapes, exactly as Kimi wrote them, instead of failing to encode."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        encoded = json.dumps(body, separators=(",", ":"), allow_nan=False).encode("ascii")
    return {"content": encoded, "headers": {"Content-Type": "application/json"}}


def connection_error(
    cls: type[APIConnectionError], method: str, path: str, exc: Exception, secrets: tuple[str, ...]
) -> APIConnectionError:
    """The error for a failed exchange, saying whether the request may have reached Kimi."""
    what = "timed out" if cls is APITimeoutError else "failed"
    detail = redact(f"{type(exc).__name__}: {exc}", secrets)[:200]
    not_sent = isinstance(exc, NOT_SENT)
    advice = "Check the network or base_url; retrying later may help."
    if method == "POST" and path == "/files" and not not_sent:
        # The body left: Kimi may hold the file already, and it caps an account at 1000 files.
        advice = "The upload may have reached Kimi: call list_files before uploading again."
    message = f"The connection to Kimi {what} ({method} {path}; {detail}). {advice}"
    return cls(message, not_sent=not_sent)


def too_large(path: str, cap: int) -> ResponseValidationError:
    return ResponseValidationError(
        f"Kimi's answer to {path} was larger than {cap // (1024 * 1024)} MiB, so kimi-mcp "
        "stopped reading it; the upstream is misbehaving. Retrying will not help."
    )


def _plain_within(response: httpx2.Response, cap: int) -> bool:
    """Whether the body is at most `cap` bytes as it is read: framed by a declared length no
    longer (h11 then delivers exactly that many bytes; a Transfer-Encoding would beat it) and
    not encoded (gzip inflates past any length). Raises when the declared length is over."""
    headers = response.headers
    declared = headers.get("content-length", "")
    if not declared.isdigit() or "transfer-encoding" in headers:
        return False  # chunked or until close: only counting while reading bounds it
    if int(declared) > cap:
        raise too_large(response.request.url.path, cap)
    return "content-encoding" not in headers


async def read_response(response: httpx2.Response, cap: int = MAX_BODY_BYTES) -> httpx2.Response:
    """`response` with its body read (`.content`), refused as soon as it passes `cap` bytes.

    A plain answer of a declared length within the cap (Kimi's JSON) is read in one go into
    this response, as httpx2 reads any answer; a body whose size only shows while reading is
    counted, into a fresh Response.
    """
    if _plain_within(response, cap):
        await _read_plain(response, cap)
        return response
    body = await _counted(response, cap)
    # A fresh Response around the capped body: the streamed one is closed and unread.
    return httpx2.Response(
        response.status_code, headers=response.headers, content=body, request=response.request
    )


async def read_capped(response: httpx2.Response, cap: int = MAX_BODY_BYTES) -> bytes:
    """The (decoded) body, refused as soon as it passes `cap` bytes: memory stays bounded."""
    if _plain_within(response, cap):
        return await _read_plain(response, cap)
    return await _counted(response, cap)


async def _read_plain(response: httpx2.Response, cap: int) -> bytes:
    body = await response.aread()
    if len(body) > cap:  # a transport that does not frame by the declared length (not h11)
        raise too_large(response.request.url.path, cap)
    return body


async def _counted(response: httpx2.Response, cap: int) -> bytes:
    path = response.request.url.path
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise too_large(path, cap)
            chunks.append(chunk)
    except httpx2.DecodingError:  # e.g. `Content-Encoding: gzip` over garbage
        raise _undecodable(response) from None
    return b"".join(chunks)


async def _decoded(response: httpx2.Response) -> AsyncIterator[str]:
    try:
        async for text in response.aiter_text():
            yield text
    except httpx2.DecodingError:
        raise _undecodable(response) from None


def _undecodable(response: httpx2.Response) -> ResponseValidationError:
    return ResponseValidationError(
        f"Unexpected response from Kimi (status {response.status_code}) to "
        f"{response.request.url.path}: its body could not be decoded. Retrying will not help."
    )


async def sse_lines(response: httpx2.Response, cap: int) -> AsyncIterator[str]:
    """Lines split at CRLF, LF or CR (the SSE rule), a leading BOM dropped; a line longer than
    `cap` is refused."""
    pending = ""
    started = False
    async for text in _decoded(response):
        if not started and text:  # the SSE rule: one BOM at the very start is not data
            text, started = text.removeprefix("\ufeff"), True
        pending += text
        # A CR at the end may be the first half of a CRLF: keep it until the next piece, or a
        # multi-line event would be cut in two by a false blank line.
        held = "\r" if pending.endswith("\r") else ""
        *lines, pending = _LINE_BREAK.split(pending[: len(pending) - len(held)])
        pending += held
        for line in lines:
            yield line
        if len(pending) > cap:
            raise too_large(response.request.url.path, cap)
    if pending.rstrip("\r"):
        yield pending.rstrip("\r")


async def read_events(
    response: httpx2.Response,
    state: StreamState,
    idle: float,
    on_progress: ProgressHook | None,
) -> TruncatedReason | None:
    """Feed the SSE lines to `state`; "size" when the cap stops reading early.

    A watchdog fails the stream after `idle` seconds without a data event: `: ping` comments
    keep the read timeout from firing on a stream that produces nothing.
    """
    with anyio.CancelScope(deadline=anyio.current_time() + idle) as watchdog:
        async for line in sse_lines(response, state.max_chars):
            if state.done:
                # Read on to the end of the body (normally nothing) so the connection goes
                # back to the pool; anything more is ignored.
                if line:
                    break
                continue
            events = state.events
            state.feed_line(line)
            if state.events == events:
                continue  # a line of an event not yet complete, or a ping: nothing new to tell
            watchdog.deadline = anyio.current_time() + idle  # a data event: the stream is alive
            if state.full:
                return "size"
            # Told when the blank line completes the event, not at the next event's first line
            # (one stream gap later: the first progress note waited 200 ms for the second delta).
            if on_progress is not None:
                await on_progress(state)
    if watchdog.cancelled_caught:
        raise APITimeoutError(
            f"Kimi's stream sent no content for {idle:g} s (only keep-alive pings); it looks "
            "stuck. Retrying later may help."
        )
    if not state.events and not state.pending:  # e.g. an HTML page or a JSON body with 200
        raise ResponseValidationError(
            f"Unexpected response from Kimi (status {response.status_code}) to "
            f"{response.request.url.path}: not an event stream. Retrying will not help."
        )
    return None
