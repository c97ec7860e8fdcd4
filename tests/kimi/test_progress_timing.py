"""The progress hook hears each stream event as soon as it is read, not when the next one comes.

The hook was called for non-empty lines only, while an event is dispatched by the blank line
after it: each event reached the hook with the next event's first line, one stream gap late
(0.2 s between Kimi's deltas, so the first progress note came 200 ms after the first delta).
Here the link holds the rest of the stream until the hook has heard the first delta: a hook one
event late would wait forever (bounded by fail_after).
"""

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.stream import StreamState
from tests.conftest import CANARY_KEY, USER_AGENT

pytestmark = pytest.mark.anyio

HEARD_WITHIN = 10  # seconds: far more than reading one event takes; the test never sleeps


class HeldStream(httpx2.AsyncByteStream):
    """The chat stream event by event; after the first one carrying text, the rest waits until
    `heard` is set."""

    def __init__(self, body: httpx2.AsyncByteStream, heard: anyio.Event) -> None:
        self._body, self._heard = body, heard

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pending, held = b"", False
        async for chunk in self._body:
            pending += chunk
            *events, pending = pending.split(b"\n\n")
            for event in events:
                yield event + b"\n\n"
                if not held and b'_content":"' in event:  # reasoning_content or content
                    held = True
                    await self._heard.wait()
        if pending:
            yield pending

    async def aclose(self) -> None:
        await self._body.aclose()


class HoldingLink(httpx2.AsyncBaseTransport):
    def __init__(self, heard: anyio.Event) -> None:
        self._inner, self._heard = httpx2.AsyncHTTPTransport(), heard

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path.endswith("/chat/completions"):
            assert isinstance(response.stream, httpx2.AsyncByteStream)
            response.stream = HeldStream(response.stream, self._heard)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_the_hook_hears_the_first_delta_before_the_next_event_arrives(
    emulator_url: str,
) -> None:
    heard = anyio.Event()
    phases: list[str] = []

    async def hook(state: StreamState) -> None:
        phases.append(state.phase)
        if state.phase != "waiting":
            heard.set()

    body: dict[str, Any] = {"model": "kimi-k2.6", "messages": [{"role": "user", "content": "hi"}]}
    kimi = KimiClient(
        user_agent=USER_AGENT,
        api_key=SecretStr(CANARY_KEY),
        base_url=emulator_url,
        transport=HoldingLink(heard),
    )
    try:
        with anyio.fail_after(HEARD_WITHIN):
            outcome = await kimi.stream_chat(
                body, deadline=anyio.current_time() + 30, on_progress=hook
            )
    finally:
        await kimi.aclose()
    assert outcome.content and phases[-1] == "answering"
    assert "thinking" in phases
