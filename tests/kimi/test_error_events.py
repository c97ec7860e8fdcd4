"""An `{"error": ...}` event inside Kimi's stream, through KimiClient against the emulator: after
text went out (and was billed) the partial answer comes back, marked truncated, with what Kimi
said; before any text the error is retried when it can be, else raised, as for any answer."""

from collections.abc import AsyncIterator

import anyio
import pytest
from pydantic import SecretStr

from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.errors import ContentFilterError
from kimi_mcp.kimi.client import KimiClient
from tests.conftest import CANARY_KEY, USER_AGENT

pytestmark = pytest.mark.anyio

CHAT = "/v1/chat/completions"
BODY = {
    "model": "kimi-k2.6",
    "messages": [{"role": "user", "content": "hi"}],
    "thinking": {"type": "disabled"},
}
REPLY = "A long answer that Kimi streams in several chunks, " * 6
OVERLOADED = "The engine is currently overloaded, please try again later"
HIGH_RISK = "The request was rejected because it was considered high risk"


@pytest.fixture
async def kimi(emulator: Emulator, emulator_url: str) -> AsyncIterator[KimiClient]:
    emulator.reply = lambda _messages: REPLY
    client = KimiClient(user_agent=USER_AGENT, api_key=SecretStr(CANARY_KEY), base_url=emulator_url)
    yield client
    await client.aclose()


def attempts(emulator: Emulator) -> int:
    return sum(r.path == CHAT for r in emulator.requests)


def error_event(after_chunks: int, error_type: str, message: str) -> Fault:
    return Fault("stream_error", after_chunks=after_chunks, error_type=error_type, message=message)


async def test_an_error_event_after_text_keeps_the_billed_partial_answer(
    kimi: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(error_event(3, "engine_overloaded_error", OVERLOADED))
    outcome = await kimi.stream_chat(BODY, deadline=anyio.current_time() + 10)
    assert outcome.content == REPLY[: 3 * emulator.chunk_chars]
    assert outcome.truncated_reason == "stream_cut"
    assert outcome.error == f"engine_overloaded_error: {OVERLOADED}"
    assert attempts(emulator) == 1  # never retried: the text was billed


async def test_a_content_filter_event_after_text_keeps_the_partial_answer_as_content_filter(
    kimi: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(error_event(3, "content_filter", HIGH_RISK))
    outcome = await kimi.stream_chat(BODY, deadline=anyio.current_time() + 10)
    assert outcome.content == REPLY[: 3 * emulator.chunk_chars]
    assert outcome.truncated_reason == "content_filter"
    assert outcome.error == f"content_filter: {HIGH_RISK}"
    assert attempts(emulator) == 1


async def test_a_content_filter_event_before_any_text_is_still_an_error(
    kimi: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(error_event(0, "content_filter", HIGH_RISK))
    with pytest.raises(ContentFilterError, match="high risk"):
        await kimi.stream_chat(BODY, deadline=anyio.current_time() + 10)
    assert attempts(emulator) == 1


async def test_a_complete_answer_reports_no_upstream_error(
    kimi: KimiClient, emulator: Emulator
) -> None:
    outcome = await kimi.stream_chat(BODY, deadline=anyio.current_time() + 10)
    assert outcome.content == REPLY and outcome.truncated_reason is None
    assert outcome.error is None
