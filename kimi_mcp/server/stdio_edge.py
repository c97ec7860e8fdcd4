"""stdio: the SDK's transport, plus an answer for a request line the SDK cannot parse.

The SDK's stdin reader hands a line that does not validate as one JSON-RPC message to the
dispatcher as an exception, and the dispatcher drops it: the client that sent the request waits
for its own timeout. A lone surrogate escape (`"\\ud800"`) is such a line: Python's JSON accepts
it, the SDK's parser does not. Between the two, this edge answers a line that carries a `method`
and a readable id with a JSON-RPC error: -32700 when the SDK's parser refused the JSON, -32600 when
it is JSON but not a JSON-RPC request. Anything else is passed on and dropped as before (logs.py
surfaces the drop): a line with no `method` may be a broken *response* from the client, and an
error under its id could fail an unrelated request the client has pending under the same id.
"""

import json
import logging
from types import TracebackType
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError
from pydantic_core import ErrorDetails

log = logging.getLogger(__name__)

Item = SessionMessage | Exception
_ID_DIGITS = 100  # an id longer than this is not one a client generated; the SDK refuses it too
_BOM = "\ufeff"


async def serve_stdio(server: MCPServer[Any]) -> None:
    """`MCPServer.run_stdio_async` with the edge between the transport and the dispatcher."""
    lowlevel = server._lowlevel_server  # what run_stdio_async itself runs (mcp 2.3)
    async with stdio_server() as (read_stream, write_stream):
        edge = AnswerUnparsable(read_stream, write_stream)
        await lowlevel.run(edge, write_stream, lowlevel.create_initialization_options())


class AnswerUnparsable:
    """The transport's read stream, with unparsable requests answered on its write stream."""

    def __init__(self, inner: Any, replies: Any) -> None:
        self._inner, self._replies = inner, replies

    @property
    def last_context(self) -> Any:  # the dispatcher runs each message in its sender's context
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Item:
        while True:
            item: Item = await self._inner.receive()
            reply = error_reply(item) if isinstance(item, ValidationError) else None
            if reply is None:
                return item
            log.warning(
                "answered a stdin line that is not valid JSON-RPC with error %d (id %.40r)",
                reply.error.code,
                reply.id,
            )
            await self._replies.send(SessionMessage(reply))

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> "AnswerUnparsable":
        return self

    async def __anext__(self) -> Item:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> "AnswerUnparsable":
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def error_reply(exc: ValidationError) -> JSONRPCError | None:
    """The error answer for a line the SDK refused, or None when it names no request id."""
    errors = exc.errors(include_url=False)
    if errors and errors[0]["type"] == "json_invalid":
        raw = errors[0]["input"]
        message = _lenient_json(raw) if isinstance(raw, str) else None
        code, text = PARSE_ERROR, _parse_error_text(raw, message, errors[0])
    else:
        message = _top_level(errors)
        code, text = INVALID_REQUEST, _invalid_request_text(errors)
    request_id = _request_id(message)
    if request_id is None:
        return None
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=text))


def _lenient_json(line: str) -> dict[str, Any] | None:
    """The line as Python's JSON reads it (lone surrogates, NaN, a leading BOM: all accepted)."""
    try:
        value = json.loads(line.removeprefix(_BOM), parse_int=_short_int)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _short_int(digits: str) -> int | None:
    return int(digits) if len(digits) <= _ID_DIGITS else None


def _top_level(errors: list[ErrorDetails]) -> dict[str, Any] | None:
    """The message object itself: what a union member's "missing field" error was given."""
    for error in errors:
        top = error["type"] == "missing" and len(error["loc"]) == 2
        if top and isinstance(error["input"], dict):
            return error["input"]
    return None


def _request_id(message: dict[str, Any] | None) -> int | str | None:
    if message is None or "method" not in message:
        return None
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        return None
    if isinstance(request_id, str) and _has_lone_surrogate(request_id):
        # No JSON-RPC answer can carry this id (the SDK's writer refuses it and the server
        # would stop): the line is dropped as before, with the warning logs.py raises.
        return None
    return request_id


def _parse_error_text(raw: object, message: dict[str, Any] | None, error: ErrorDetails) -> str:
    if isinstance(raw, str) and raw.startswith(_BOM):
        return (
            "Parse error: the line starts with a byte order mark (U+FEFF); send JSON without one."
        )
    if message is not None and _has_lone_surrogate(message):
        return (
            "Parse error: the message holds a lone UTF-16 surrogate escape (such as \\ud800), "
            "which is no Unicode character. Remove it, or send the character it was meant to be "
            "(as UTF-8, or as a complete surrogate pair). Nothing was done."
        )
    reason = (error.get("ctx") or {}).get("error", "not valid JSON")
    return f"Parse error: the line is not valid JSON ({reason}). Nothing was done."


def _has_lone_surrogate(message: object) -> bool:
    try:
        json.dumps(message, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _invalid_request_text(errors: list[ErrorDetails]) -> str:
    problems = []
    for error in errors:
        loc = error["loc"]
        if loc and loc[0] == "JSONRPCRequest" and len(loc) > 1:  # the member a request must fit
            field = ".".join(str(part) for part in loc[1:])
            problems.append(
                f'"{field}" is missing' if error["type"] == "missing" else f'"{field}" is invalid'
            )
    detail = f" ({'; '.join(problems)})" if problems else ""
    return (
        f"Invalid request: not a JSON-RPC 2.0 request{detail}. A request needs "
        '"jsonrpc": "2.0", an integer or string "id", a string "method" and, if any, "params" '
        "as an object. Nothing was done."
    )
