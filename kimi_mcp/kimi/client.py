"""KimiClient: one short method per endpoint of the Kimi Open Platform API.

The mechanics live beside it: `connection` sends a request with retries, `chat_stream` streams a
chat; both raise only KimiError subclasses, with the key redacted.
"""

import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx2
from pydantic import BaseModel, SecretStr

from kimi_mcp.errors import ResponseValidationError
from kimi_mcp.kimi.chat_stream import ChatSlot, ChatStreamer
from kimi_mcp.kimi.connection import Connection
from kimi_mcp.kimi.paths import formula_path, id_path
from kimi_mcp.kimi.stream import MAX_STREAM_CHARS, ChatOutcome
from kimi_mcp.kimi.types import (
    BalanceBody,
    BalanceData,
    DeletedFile,
    Fiber,
    FileList,
    FileObject,
    FormulaTools,
    ModelInfo,
    ModelList,
    TokenCountBody,
)
from kimi_mcp.kimi.upstream import ProgressHook

# Seconds a stream may go without a data event (`: ping` comments keep `read` from firing).
CONTENT_IDLE = 90.0

ModelT = TypeVar("ModelT", bound=BaseModel)
__all__ = ["BinaryReader", "ChatSlot", "KimiClient", "ProgressHook", "SizedBody"]


class BinaryReader(Protocol):
    """What a streamed upload body reads from (httpx2 rewinds it before each attempt)."""

    def read(self, size: int = -1, /) -> bytes: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def tell(self) -> int: ...


class SizedBody(Protocol):
    """An upload's bytes, streamed: `size` bytes in all, from the start at each `async for`."""

    size: int

    def __aiter__(self) -> AsyncIterator[bytes]: ...


class KimiClient:
    """Async client for the Kimi Open Platform API; raises only KimiError subclasses."""

    def __init__(
        self,
        *,
        api_key: SecretStr | None,
        base_url: str,
        user_agent: str,
        timeout: float = 60.0,
        max_retries: int = 2,
        max_concurrent_chats: int = 4,
        backoff: float = 0.5,
        content_idle: float = CONTENT_IDLE,
        max_stream_chars: int = MAX_STREAM_CHARS,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._connection = Connection(
            api_key=api_key,
            base_url=base_url,
            user_agent=user_agent,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            transport=transport,
        )
        self._send = self._connection.send
        self._chats = ChatStreamer(
            self._connection,
            max_concurrent_chats=max_concurrent_chats,
            content_idle=content_idle,
            max_stream_chars=max_stream_chars,
        )

    async def aclose(self) -> None:
        await self._connection.aclose()

    async def list_models(self, *, deadline: float) -> list[ModelInfo]:
        response = await self._send("GET", "/models", deadline=deadline)
        return _parse(ModelList, response).data

    async def balance(self, *, deadline: float) -> BalanceData:
        response = await self._send("GET", "/users/me/balance", deadline=deadline)
        return _parse(BalanceBody, response).data

    async def estimate_tokens(
        self, model: str, messages: list[dict[str, Any]], *, deadline: float
    ) -> int:
        body = {"model": model, "messages": messages}
        response = await self._send(
            "POST", "/tokenizers/estimate-token-count", json=body, deadline=deadline
        )
        return _parse(TokenCountBody, response).data.total_tokens

    async def upload_file(
        self, filename: str, content: bytes | BinaryReader, purpose: str, *, deadline: float
    ) -> FileObject:
        """`content` may be a reader (read, seek, tell): the body is then streamed from it."""
        files = {"file": (filename, content)}
        response = await self._send(
            "POST", "/files", files=files, data={"purpose": purpose}, deadline=deadline
        )
        return _parse(FileObject, response)

    async def upload_stream(
        self, filename: str, body: SizedBody, purpose: str, *, deadline: float
    ) -> FileObject:
        """The same multipart upload, its file part streamed from `body`: an async iterable
        of exactly `body.size` bytes that starts afresh for each attempt. It may raise while
        iterated to cut the body short (Kimi then stores nothing); the error leaves as is."""
        head, tail, content_type = _multipart_frame(filename, purpose)
        length = len(head) + body.size + len(tail)
        headers = {"Content-Type": content_type, "Content-Length": str(length)}
        content = _Framed(head, body, tail)
        response = await self._send(
            "POST", "/files", content=content, headers=headers, deadline=deadline
        )
        return _parse(FileObject, response)

    async def list_files(self, *, deadline: float) -> list[FileObject]:
        return _parse(FileList, await self._send("GET", "/files", deadline=deadline)).data

    async def file_info(self, file_id: str, *, deadline: float) -> FileObject:
        path = id_path("/files", file_id)
        return _parse(FileObject, await self._send("GET", path, deadline=deadline))

    async def delete_file(self, file_id: str, *, deadline: float) -> DeletedFile:
        response = await self._send("DELETE", id_path("/files", file_id), deadline=deadline)
        return _parse(DeletedFile, response)

    async def file_content(self, file_id: str, *, deadline: float) -> str:
        path = id_path("/files", file_id, "/content")
        response = await self._send("GET", path, deadline=deadline)
        return response.content.decode("utf-8", errors="replace")

    async def formula_tools(self, uri: str, *, deadline: float) -> list[dict[str, Any]]:
        """The function tools a Formula declares (kimi-api.md 2.8), to send in a chat."""
        response = await self._send("GET", formula_path(uri, "tools"), deadline=deadline)
        return _parse(FormulaTools, response).tools

    async def run_fiber(self, uri: str, name: str, arguments: str, *, deadline: float) -> Fiber:
        """Run one tool call on Kimi's side. `arguments` is passed through as the model wrote
        it; a fiber may have run once sent, so it is tried again only when refused unrun."""
        body = {"name": name, "arguments": arguments}
        path = formula_path(uri, "fibers")
        response = await self._send("POST", path, json=body, deadline=deadline, runs_once=True)
        return _parse(Fiber, response)

    async def stream_chat(
        self, body: dict[str, Any], *, deadline: float, on_progress: ProgressHook | None = None
    ) -> ChatOutcome:
        """Stream one chat completion; a deadline or a cut stream returns the partial answer."""
        return await self._chats.stream(body, deadline=deadline, on_progress=on_progress)

    def chat_slot(self, deadline: float) -> AbstractAsyncContextManager[ChatSlot]:
        """Hold one of the `max_concurrent_chats` slots (waiting counts toward `deadline`; a
        slot still busy then is APITimeoutError) while building a request; `slot.stream(body)`
        then streams it without taking a second slot."""
        return self._chats.slot(deadline)


def _multipart_frame(filename: str, purpose: str) -> tuple[bytes, bytes, str]:
    """What goes before and after the file's bytes in `upload_file`'s form, and its content
    type: httpx2 frames it (names quoted, type guessed) around an empty file, which is last."""
    form = httpx2.Request(
        "POST", "http://frame/", data={"purpose": purpose}, files={"file": (filename, b"")}
    )
    content_type = form.headers["Content-Type"]
    boundary = content_type.split("boundary=", 1)[1].encode("ascii")
    whole, tail = form.read(), b"\r\n--" + boundary + b"--\r\n"
    return whole.removesuffix(tail), tail, content_type


@dataclass(frozen=True)
class _Framed:
    """The file's bytes between the form's head and tail; iterable again for each attempt."""

    head: bytes
    body: SizedBody
    tail: bytes

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        async for chunk in self.body:
            yield chunk
        yield self.tail


def _parse(model: type[ModelT], response: httpx2.Response) -> ModelT:
    try:
        # json.loads, not model_validate_json: pydantic's parser refuses a lone surrogate escape
        # (`\\ud800`), which is valid JSON and which a fiber's echo of a model's arguments holds.
        return model.model_validate(json.loads(response.content))
    except (ValueError, RecursionError):  # ValidationError is a ValueError
        raise ResponseValidationError(
            f"Unexpected response from Kimi (status {response.status_code}) to "
            f"{response.request.url.path}: not the documented shape; the API may have changed "
            "or a proxy answered. Retrying will not help."
        ) from None
