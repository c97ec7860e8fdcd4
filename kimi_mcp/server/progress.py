"""Progress for long chats: at most every 0.5 s, at least every 2 s, saying the phase and tokens.

Clients that reset their request timeout on progress (Claude Code, the SDK) keep waiting as long
as these arrive, so a silent upstream (a model thinking before its first byte) still gets a beat.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio

from kimi_mcp.kimi.stream import Phase, StreamState
from kimi_mcp.server.results import wire_safe

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.5
# Contract: a beat at least every 2 s; 1.5 s leaves room for scheduling and transport delay.
MAX_INTERVAL = 1.5
MAX_STEP_CHARS = 500  # of a step's text: a round of a thousand calls is not a 100 KB beat

SendProgress = Callable[[float, str], Awaitable[None]]


class ProgressReporter:
    def __init__(
        self,
        send: SendProgress,
        *,
        min_interval: float = MIN_INTERVAL,
        max_interval: float = MAX_INTERVAL,
    ) -> None:
        self._send = send
        self._min = min_interval
        self._max = max_interval
        self._started = anyio.current_time()
        self._last_sent = self._started
        self._state: StreamState | None = None
        self._step: str | None = None  # a tool step under way ("searching: ...")
        self._phase: Phase = "waiting"  # of the last stream line seen
        self._value = 0.0

    async def update(self, state: StreamState) -> None:
        """Called for every stream line: a note at once when the phase changes (the first
        thinking or answer token is news the user waits for), otherwise at most every
        MIN_INTERVAL since the last note."""
        changed = state.phase != self._phase or self._step is not None
        self._state, self._step, self._phase = state, None, state.phase
        if changed or anyio.current_time() - self._last_sent >= self._min:
            await self._emit()

    async def step(self, what: str) -> None:
        """A step of the tool loop starts (a search, a fetch, code): said at once, and in
        every beat until the next round streams."""
        if len(what) > MAX_STEP_CHARS:
            what = what[: MAX_STEP_CHARS - 3] + "..."
        # It quotes what the model wrote: a lone surrogate there would stop the stdio writer.
        self._step, self._state = wire_safe(what), None
        await self._emit()

    async def _emit(self) -> None:
        now = anyio.current_time()
        self._last_sent = now
        state = self._state
        elapsed = now - self._started
        if self._step is not None:
            message = f"{self._step} ({elapsed:.0f}s)"
        else:
            phase = state.phase if state else "waiting"
            tokens = state.deltas if state else 0
            message = f"{phase}: ~{tokens} tokens so far ({elapsed:.0f}s)"
        # Elapsed seconds as the progress value: it must increase with every notification.
        self._value = max(round(elapsed, 3), self._value + 0.001)
        try:
            await self._send(self._value, message)
        except Exception as exc:  # best effort: a client gone deaf must not cost the answer
            log.debug("progress not sent: %s: %s", type(exc).__name__, exc)

    async def _heartbeat(self) -> None:
        while True:
            await anyio.sleep(max(0.0, self._last_sent + self._max - anyio.current_time()))
            if anyio.current_time() - self._last_sent >= self._max:
                await self._emit()

    @asynccontextmanager
    async def running(self) -> AsyncIterator["ProgressReporter"]:
        """Heartbeats while the body runs; the body's own error leaves unwrapped (no group).
        The beating task starts only once a beat may be due (`max_interval` in): most calls
        end before, and a task started and cancelled cost each of them ~0.07 ms of CPU."""
        async with _alongside(self._heartbeat, after=self._max):
            yield self


SendUploadProgress = Callable[[float, float, str], Awaitable[None]]


class UploadProgress:
    """Progress of an upload: bytes sent of the total, at most every MIN_INTERVAL, and only when
    more has been sent (the value must increase with every notification)."""

    def __init__(self, send: SendUploadProgress, *, min_interval: float = MIN_INTERVAL) -> None:
        self._send = send
        self._min = min_interval
        self._sent = self._reported = 0
        self._total = 0
        self._moved = anyio.Event()

    def advance(self, sent: int, total: int) -> None:
        """Called (synchronously) as the body is read; a retried request starts again at 0."""
        self._sent, self._total = max(self._sent, sent), total
        self._moved.set()

    async def _emit(self) -> None:
        if self._sent <= self._reported:
            return
        self._reported = self._sent
        message = f"uploading: {_mib(self._sent)} of {_mib(self._total)} sent"
        try:
            await self._send(self._sent, self._total, message)
        except Exception as exc:  # best effort, as for chats
            log.debug("progress not sent: %s: %s", type(exc).__name__, exc)

    async def _pump(self) -> None:
        while True:
            await self._moved.wait()
            self._moved = anyio.Event()
            await self._emit()
            await anyio.sleep(self._min)

    @asynccontextmanager
    async def running(self) -> AsyncIterator["UploadProgress"]:
        """Reports while the body runs, then the last count; the body's error leaves unwrapped."""
        async with _alongside(self._pump):
            yield self
        await self._emit()  # the final count (sent == total), unless it went out already


@asynccontextmanager
async def _alongside(
    background: Callable[[], Coroutine[Any, Any, None]], *, after: float = 0.0
) -> AsyncIterator[None]:
    """Run `background` while the body runs, from `after` seconds on, then stop it; the body's
    own error leaves as it is, not wrapped in an exception group, so a KimiError still reaches
    the tool's handler. A timer of the event loop (the SDK's backend is asyncio) starts it in
    the group, so a body that ends first never starts it."""
    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        timer = asyncio.get_running_loop().call_later(after, group.start_soon, background)
        try:
            yield
        except Exception as exc:
            failure = exc
        finally:
            timer.cancel()
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
