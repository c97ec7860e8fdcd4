"""The emulator's state: its settings, what it received, the files it stores, the faults it will
play and the paced answers in flight. The HTTP side over it lives in `app`."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from kimi_mcp.emulator import catalogue
from kimi_mcp.emulator.fault_spec import Fault
from kimi_mcp.emulator.pacing import Pacing
from kimi_mcp.emulator.records import Disconnect, RecordedRequest, StoredFile, new_id

MAX_CACHE_KEYS = 1000  # prompt_cache_key values remembered at once


@dataclass
class _Queued:
    fault: Fault
    left: int


class EmulatorState:
    """What the Kimi API holds, what it received, and the faults it will play (the HTTP app over
    it is `app.Emulator`'s).

    `balance` is (cash, voucher); `max_files` and `max_file_bytes` may be lowered for tests.
    """

    max_files = 1000
    max_file_bytes = 100 * 1024 * 1024

    def __init__(
        self,
        *,
        api_key: str = "sk-emulator-key",
        models: list[dict[str, Any]] | None = None,
        balance: tuple[float, float] = (3.00001, 46.58893),
        stream_delay: float = 0.0,
        chunk_chars: int = 16,
    ) -> None:
        self.api_key, self.models = api_key, catalogue.model_entries(models)
        self.cash_balance, self.voucher_balance = balance
        self.stream_delay, self.chunk_chars = stream_delay, max(1, chunk_chars)
        self.reply: Callable[[list[dict[str, Any]]], str] | None = None
        self.requests: list[RecordedRequest] = []
        self.rejections: list[tuple[str, int, str]] = []  # (path, status, message) refused
        self.files: dict[str, StoredFile] = {}
        self.disconnects: list[Disconnect] = []
        self.peak_streams = 0  # the most SSE answers open at once since the last reset
        self._streams = 0
        self._faults: list[_Queued] = []
        self._waiters: list[anyio.Event] = []  # wait_* callers, woken at each record
        self._previous: list[dict[str, Any]] | None = None  # the last prompt, for cached_tokens
        self._previous_by_key: dict[str, list[dict[str, Any]]] = {}  # by prompt_cache_key
        self._stopping: anyio.Event | None = None
        self._uid = new_id()

    def inject(self, fault: Fault) -> None:
        """Queue `fault` behind the ones already queued."""
        self._faults.append(_Queued(fault, fault.times))

    def reset(self) -> None:
        """Forget requests, faults and disconnects (files, models and balance stay)."""
        self.requests.clear()
        self.rejections.clear()
        self._faults.clear()
        self.disconnects.clear()
        self._previous, self.peak_streams = None, self._streams
        self._previous_by_key.clear()

    def balance_set(self, cash: float, voucher: float) -> None:
        self.cash_balance, self.voucher_balance = cash, voucher

    @property
    def balance(self) -> tuple[float, float]:
        """(cash, voucher), as given to the constructor and `balance_set`."""
        return self.cash_balance, self.voucher_balance

    @property
    def available_balance(self) -> float:
        """Cash + voucher, or only the voucher while cash is negative (section 2.4)."""
        return round(self.voucher_balance + max(self.cash_balance, 0.0), 5)

    def cached_tokens(self, messages: list[dict[str, Any]], key: str | None) -> int:
        """The prompt's cache hits against the previous prompt of the same `prompt_cache_key`, or
        of any request without a key; then remember this prompt (section 2.7)."""
        previous = self._previous if key is None else self._previous_by_key.pop(key, None)
        self._previous = messages
        if key is not None:
            if len(self._previous_by_key) >= MAX_CACHE_KEYS:  # forget the least recently used
                del self._previous_by_key[next(iter(self._previous_by_key))]
            self._previous_by_key[key] = messages
        return catalogue.cached_tokens(previous, messages)

    def count_tokens(self, messages: list[dict[str, Any]]) -> int:
        """The emulator's tokenizer (see `catalogue.count_tokens`)."""
        return catalogue.count_tokens(messages)

    async def wait_disconnects(self, count: int = 1) -> list[Disconnect]:
        """Wait until `count` disconnects are recorded (bound it with a timeout)."""
        while len(self.disconnects) < count:
            self._waiters.append(event := anyio.Event())
            await event.wait()
        return list(self.disconnects)

    def record(self, request: RecordedRequest) -> None:
        self.requests.append(request)
        self._wake()

    async def wait_requests(self, path: str, count: int = 1) -> list[RecordedRequest]:
        """Wait until `count` requests to `path` arrived (bound it with a timeout)."""
        while len(found := [r for r in self.requests if r.path == path]) < count:
            self._waiters.append(event := anyio.Event())
            await event.wait()
        return found

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for queued in self._faults:
            if queued.fault.matches(method, path):
                queued.left -= 1
                if not queued.left:
                    self._faults.remove(queued)
                return queued.fault
        return None

    def _pacing(self, path: str) -> Pacing:
        gap, left = (lambda: self.stream_delay), (lambda sent: self._left(path, sent))
        return Pacing(gap, left, self._stopping, self._count_stream)

    def _left(self, path: str, sent: int) -> None:
        self.disconnects.append(Disconnect(path, time.monotonic(), sent))
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.set()

    def _count_stream(self, delta: int) -> None:
        self._streams += delta
        self.peak_streams = max(self.peak_streams, self._streams)
