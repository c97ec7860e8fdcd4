"""Malformed upstream streams through KimiClient against the emulator (a "raw" fault sends any
SSE text): the text already streamed comes back as a partial answer marked upstream_malformed,
or, with nothing streamed, a clear error; a BOM, null usage fields and surrogate pairs split
across events are no fault at all."""

from collections.abc import AsyncIterator

import anyio
import pytest
from pydantic import SecretStr

from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.errors import UpstreamMalformedError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.stream import ChatOutcome
from tests.conftest import CANARY_KEY, USER_AGENT
from tests.raw_sse import DONE, HELLO, ROLE, SSE, STOP, STRING_DELTA, USAGE, event

pytestmark = pytest.mark.anyio

CHAT = "/v1/chat/completions"
BODY = {"model": "kimi-k2.6", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def kimi(emulator_url: str) -> AsyncIterator[KimiClient]:
    client = KimiClient(user_agent=USER_AGENT, api_key=SecretStr(CANARY_KEY), base_url=emulator_url)
    yield client
    await client.aclose()


async def streamed(kimi: KimiClient, emulator: Emulator, body: str) -> ChatOutcome:
    emulator.inject(Fault("raw", status=200, body=body, headers=SSE))
    return await kimi.stream_chat(BODY, deadline=anyio.current_time() + 10)


def attempts(emulator: Emulator) -> int:
    return sum(r.path == CHAT for r in emulator.requests)


@pytest.mark.parametrize(
    "bad",
    [
        STRING_DELTA,
        'data: {"choices": {"index": 0, "delta": {"content": "x"}}}\n\n',
        "data: " + "[" * 100_000 + "]" * 100_000 + "\n\n",
    ],
    ids=["string-delta", "choices-object", "deep-json"],
)
async def test_a_malformed_chunk_after_text_returns_the_text_as_upstream_malformed(
    kimi: KimiClient, emulator: Emulator, bad: str
) -> None:
    outcome = await streamed(kimi, emulator, ROLE + HELLO + bad + event({"content": "x"}) + DONE)
    assert outcome.content == "Hello "
    assert outcome.truncated_reason == "upstream_malformed"
    assert attempts(emulator) == 1  # never retried: the text was billed


async def test_a_malformed_chunk_after_text_says_why_the_answer_stopped(
    kimi: KimiClient, emulator: Emulator
) -> None:
    outcome = await streamed(kimi, emulator, ROLE + HELLO + STRING_DELTA + DONE)
    assert outcome.content == "Hello " and outcome.error is not None
    assert "malformed stream chunk (delta is a JSON string, not an object)" in outcome.error


async def test_a_malformed_chunk_before_any_text_is_a_clear_error(
    kimi: KimiClient, emulator: Emulator
) -> None:
    body = ROLE + STRING_DELTA + HELLO + DONE
    with pytest.raises(UpstreamMalformedError) as caught:
        await streamed(kimi, emulator, body)
    assert "Kimi sent a malformed stream chunk (delta is a JSON string, not an object)" in str(
        caught.value
    )
    assert attempts(emulator) == 1


async def test_a_bom_before_the_first_event_is_ignored(
    kimi: KimiClient, emulator: Emulator
) -> None:
    outcome = await streamed(kimi, emulator, "\ufeff" + HELLO + STOP + DONE)
    assert outcome.content == "Hello " and outcome.truncated_reason is None


async def test_a_null_usage_field_is_not_a_cut(kimi: KimiClient, emulator: Emulator) -> None:
    usage = USAGE | {"cached_tokens": None, "completion_tokens": None}
    outcome = await streamed(kimi, emulator, HELLO + event({}, "stop", usage=usage) + DONE)
    assert outcome.truncated_reason is None and outcome.finish_reason == "stop"
    assert outcome.usage is not None and outcome.usage.prompt_tokens == 8


async def test_a_surrogate_pair_split_across_sse_events_is_one_character(
    kimi: KimiClient, emulator: Emulator
) -> None:
    # json.dumps escapes each half as \udXXX: exactly what arrives on the wire.
    body = HELLO + event({"content": "\ud83d"}) + event({"content": "\ude00"}) + STOP + DONE
    outcome = await streamed(kimi, emulator, body)
    assert outcome.content == "Hello \U0001f600" and outcome.truncated_reason is None
