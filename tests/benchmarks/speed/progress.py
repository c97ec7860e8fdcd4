"""Progress during a slow answer: how soon the user hears that Kimi started, and how often after.

The emulator runs in this process, so the moment it writes each stream chunk and the moment the
client receives each progress note share one clock; kimi-mcp is a stdio child. The emulator
paces deltas 0.2 s apart and answers with a reasoning model (thinking, then the answer).

Figures (absolute ms: the wait is not CPU-bound): the first note after the first upstream delta;
the note of each phase change (first thinking, first answer token) after its first delta, the
worst of both; the longest gap between notes. Floor: a bare MCPServer tool streaming the same
chat body and telling each phase change at once (bare_stream_server.py).
"""

import itertools
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

from mcp import Client, StdioServerParameters
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kimi_mcp.emulator import Emulator
from kimi_mcp.emulator.app import build_app
from tests.benchmarks.speed.figures import Figure, median
from tests.benchmarks.speed.harness import (
    BENCHMARKS,
    Upstream,
    kimi_params,
    last_request,
    stdio_client,
    structured,
    upstream,
)

DELTA_GAP = 0.2  # seconds between stream chunks, as the issue measured it
FIRST_NOTE_MS, MAX_GAP_S = 10.0, 2.0
PHASES = {"reasoning_content": "thinking", "content": "answering"}


class TimedEmulator(Emulator):
    """The emulator, noting when each chat stream chunk went out (time.monotonic())."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.chunks: list[tuple[float, bytes]] = []

    @cached_property
    def app(self) -> Starlette:
        app = build_app(self)
        app.add_middleware(_ChunkTimes, chunks=self.chunks)
        return app


class _ChunkTimes:
    def __init__(self, app: ASGIApp, chunks: list[tuple[float, bytes]]) -> None:
        self.app, self.chunks = app, chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not str(scope.get("path", "")).endswith("/chat/completions"):
            return await self.app(scope, receive, send)

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and message.get("body"):
                self.chunks.append((time.monotonic(), message["body"]))

        await self.app(scope, receive, timed_send)


@dataclass
class Heard:
    """One call as both ends saw it: when each phase's first delta went out, and each note."""

    started: float
    phases: dict[str, float] = field(default_factory=dict)  # phase -> first delta sent
    notes: list[tuple[float, str]] = field(default_factory=list)  # (received, message)

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.notes.append((time.monotonic(), message or ""))

    def read_chunks(self, chunks: list[tuple[float, bytes]]) -> None:
        for sent, body in chunks:
            for line in body.decode().splitlines():
                if line.startswith("data: {"):
                    delta = json.loads(line[6:])["choices"][0].get("delta", {})
                    for key, phase in PHASES.items():
                        if delta.get(key):
                            self.phases.setdefault(phase, sent)

    def first_note_ms(self) -> float:
        first_delta = min(self.phases.values())
        return (min(t for t, _ in self.notes if t >= first_delta) - first_delta) * 1000

    def phase_note_ms(self, named: bool) -> float:
        """The slowest phase change to be told (by a note naming the phase, when `named`)."""
        worst = 0.0
        for phase, sent in self.phases.items():
            told = [t for t, m in self.notes if t >= sent and (m.startswith(phase) or not named)]
            worst = max(worst, (min(told) - sent) * 1000)
        return worst

    def max_gap_s(self) -> float:
        times = [self.started] + [t for t, _ in self.notes]
        return max(b - a for a, b in itertools.pairwise(times))


async def measure(quick: bool) -> list[Figure]:
    rounds, answer_chunks = (1, 8) if quick else (3, 30)
    emulator = TimedEmulator(stream_delay=DELTA_GAP, chunk_chars=16)
    emulator.reply = lambda messages: "word " * (answer_chunks * 16 // 5)
    kimi_heard: list[Heard] = []
    bare_heard: list[Heard] = []
    async with upstream(emulator) as up:
        bare = _bare_params(up)
        async with stdio_client(kimi_params(up)) as (kimi, _), stdio_client(bare) as (floor, _):
            for _ in range(rounds):
                heard = await _heard(emulator, lambda h: _ask(kimi, h))
                kimi_heard.append(heard)
                body = (await last_request(up, "/chat/completions")).body.decode()
                bare_heard.append(await _heard(emulator, partial(_stream, floor, body)))
    return _figures(kimi_heard, bare_heard)


async def _heard(emulator: TimedEmulator, call: Callable[[Heard], Awaitable[None]]) -> Heard:
    emulator.chunks.clear()
    heard = Heard(time.monotonic())
    await call(heard)
    heard.read_chunks(emulator.chunks)
    return heard


async def _ask(kimi: Client, heard: Heard) -> None:
    arguments = {"prompt": "a long answer, thinking first", "thinking": True}
    result = await kimi.call_tool("ask_kimi", arguments, progress_callback=heard.on_progress)
    structured(result)


async def _stream(floor: Client, body: str, heard: Heard) -> None:
    result = await floor.call_tool("stream", {"body": body}, progress_callback=heard.on_progress)
    if result.is_error:
        raise RuntimeError(f"bare stream failed: {result.content}")


def _bare_params(up: Upstream) -> StdioServerParameters:
    env = {"MOONSHOT_BASE_URL": up.base_url, "MOONSHOT_API_KEY": up.api_key}
    script = str(BENCHMARKS / "speed" / "bare_stream_server.py")
    return StdioServerParameters(command=sys.executable, args=[script], env=env)


def _figures(kimi: list[Heard], bare: list[Heard]) -> list[Figure]:
    first = median([h.first_note_ms() for h in kimi])
    first_floor = median([h.first_note_ms() for h in bare])
    phase = max(h.phase_note_ms(named=True) for h in kimi)
    phase_floor = max(h.phase_note_ms(named=False) for h in bare)
    gap = max(h.max_gap_s() for h in kimi)
    notes = [len(h.notes) for h in kimi]
    seconds = [h.notes[-1][0] - h.started for h in kimi]
    return [
        Figure(
            "first progress note after the first upstream delta",
            first,
            "ms",
            f"<= {FIRST_NOTE_MS:.0f} ms",
            first <= FIRST_NOTE_MS,
            first_floor,
            "bare tool streaming the same body",
            detail={"calls": len(kimi), "delta_gap_s": DELTA_GAP},
        ),
        Figure(
            "progress note naming a phase change, after its first delta (worst)",
            phase,
            "ms",
            f"<= {FIRST_NOTE_MS:.0f} ms (one per phase change)",
            phase <= FIRST_NOTE_MS,
            phase_floor,
            "bare tool streaming the same body",
            detail={"phases": sorted(kimi[0].phases)},
        ),
        Figure(
            "longest gap between progress notes",
            gap,
            "s",
            f"<= {MAX_GAP_S:.0f} s",
            gap <= MAX_GAP_S,
            detail={"notes_per_call": notes, "call_seconds": seconds},
        ),
    ]
