"""One streamed chat completion: a chat slot, retries until the first text, and the partial
answer when the deadline passes or the stream is cut."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2

from kimi_mcp.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ContentFilterError,
    UpstreamMalformedError,
)
from kimi_mcp.kimi.connection import Connection
from kimi_mcp.kimi.retries import Retries, not_sent
from kimi_mcp.kimi.stream import ChatOutcome, StreamState, TruncatedReason
from kimi_mcp.kimi.upstream import ProgressHook, json_content, read_capped, read_events

CHAT_PATH = "/chat/completions"


class ChatStreamer:
    """Streams chats through `connection`, at most `max_concurrent_chats` at once."""

    def __init__(
        self,
        connection: Connection,
        *,
        max_concurrent_chats: int,
        content_idle: float,
        max_stream_chars: int,
    ) -> None:
        self._connection = connection
        self._slots = anyio.Semaphore(max_concurrent_chats)
        self._content_idle = content_idle
        self._max_stream_chars = max_stream_chars

    async def stream(
        self, body: dict[str, Any], *, deadline: float, on_progress: ProgressHook | None
    ) -> ChatOutcome:
        async with self.slot(deadline) as held:
            return await held.stream(body, on_progress=on_progress)

    @asynccontextmanager
    async def slot(self, deadline: float) -> AsyncIterator["ChatSlot"]:
        """Hold a chat slot while the caller builds its request, then stream in it: what the
        request holds in memory (inline images) is then bounded by the slots too."""
        acquired = self._free_slot()
        if not acquired:
            # Waiting for a slot counts toward the deadline (Tier0 allows one chat at a time).
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                await self._slots.acquire()
                acquired = True
        if not acquired:
            raise APITimeoutError(
                "Every chat slot (max_concurrent_chats) stayed busy until the deadline; "
                "try again when other calls have finished."
            )
        held = ChatSlot(self, deadline)
        try:
            yield held
        finally:
            held.released = True
            self._slots.release()

    def _free_slot(self) -> bool:
        """A slot taken at once, if one is free: no deadline scope to set up (~0.014 ms a call)."""
        try:
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            return False
        return True

    async def _stream_held(
        self, body: dict[str, Any], deadline: float, on_progress: ProgressHook | None
    ) -> ChatOutcome:
        return await self._with_retries(self._connection.http, body, deadline, on_progress)

    async def _with_retries(
        self,
        http: httpx2.AsyncClient,
        body: dict[str, Any],
        deadline: float,
        on_progress: ProgressHook | None,
    ) -> ChatOutcome:
        retries: Retries = self._connection.retries(deadline)
        while True:
            state = StreamState(
                model=str(body.get("model", "")),
                secrets=self._connection.secrets,
                max_chars=self._max_stream_chars,
            )
            try:
                return await self._until_deadline(http, body, state, deadline, on_progress)
            except APIError as error:
                if state.produced_text:  # never retried: the text went out (and was billed)
                    return state.outcome(*cut_by(error))
                await retries.wait_or_raise(error, sent=not not_sent(error))

    async def _until_deadline(
        self,
        http: httpx2.AsyncClient,
        body: dict[str, Any],
        state: StreamState,
        deadline: float,
        on_progress: ProgressHook | None,
    ) -> ChatOutcome:
        with anyio.move_on_after(max(0.0, deadline - anyio.current_time())) as scope:
            cut = await self._read(http, {**body, "stream": True}, state, on_progress)
        return state.outcome("deadline" if scope.cancelled_caught else cut)

    async def _read(
        self,
        http: httpx2.AsyncClient,
        body: dict[str, Any],
        state: StreamState,
        on_progress: ProgressHook | None,
    ) -> TruncatedReason | None:
        connection = self._connection
        try:
            async with http.stream("POST", CHAT_PATH, **json_content(body)) as response:
                if not response.is_success:
                    error_body = await read_capped(response)
                    raise connection.status_error(
                        response.status_code, response.headers, error_body
                    )
                return await read_events(response, state, self._content_idle, on_progress)
        except httpx2.TimeoutException as exc:
            raise connection.connection_error(APITimeoutError, "POST", CHAT_PATH, exc) from None
        except httpx2.TransportError as exc:  # its text may quote a header: only redacted
            raise connection.connection_error(APIConnectionError, "POST", CHAT_PATH, exc) from None


def cut_by(error: APIError) -> tuple[TruncatedReason, str | None]:
    """Why a stream that already produced text stopped, and what Kimi said about it: the billed
    partial answer is returned with Kimi's reason, never thrown away for an error."""
    if isinstance(error, APIStatusError):  # only an `{"error": ...}` event comes after text
        said = ": ".join(part for part in (error.error_type, error.upstream_message) if part)
        reason: TruncatedReason = (
            "content_filter" if isinstance(error, ContentFilterError) else "stream_cut"
        )
        return reason, said or None
    if isinstance(error, UpstreamMalformedError):
        return "upstream_malformed", str(error)
    return "stream_cut", None  # a cut connection: Kimi said nothing


class ChatSlot:
    """One held chat slot: streams chats under the deadline it was taken with."""

    def __init__(self, streamer: ChatStreamer, deadline: float) -> None:
        self._streamer, self.deadline = streamer, deadline
        self.released = False

    async def stream(
        self, body: dict[str, Any], *, on_progress: ProgressHook | None = None
    ) -> ChatOutcome:
        """Stream one chat completion in this slot (no second slot is taken)."""
        if self.released:
            raise RuntimeError("this chat slot was released; take a new one")
        return await self._streamer._stream_held(body, self.deadline, on_progress)
