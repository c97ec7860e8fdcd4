"""Paced response bodies: pieces sent with pauses, a client leaving noticed, resets injected."""

from collections.abc import Callable
from dataclasses import dataclass

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


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
