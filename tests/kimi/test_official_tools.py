"""KimiClient's side of Kimi's official tools (kimi-api.md 2.2 and 2.8): tool-call deltas
assembled by index, formula declarations, fibers and when a fiber may be tried again."""

import json
from collections.abc import AsyncIterator

import anyio
import pytest
from pydantic import SecretStr

from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.errors import (
    APIConnectionError,
    InputError,
    RateLimitError,
    ServerError,
    UpstreamMalformedError,
)
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.stream import StreamState
from tests.conftest import CANARY_KEY, USER_AGENT
from tests.raw_sse import DONE, ROLE, SSE, USAGE, event

pytestmark = pytest.mark.anyio

FETCH = "moonshot/fetch:latest"
FETCH_FIBERS = f"/v1/formulas/{FETCH}/fibers"
BODY = {"model": "kimi-k2.6", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def kimi(emulator_url: str) -> AsyncIterator[KimiClient]:
    client = KimiClient(
        user_agent=USER_AGENT, api_key=SecretStr(CANARY_KEY), base_url=emulator_url, backoff=0.01
    )
    yield client
    await client.aclose()


def _deadline() -> float:
    return anyio.current_time() + 10


def _call_delta(index: int, **fields: object) -> dict[str, object]:
    return {"tool_calls": [{"index": index, **fields}]}


INTERLEAVED = (
    ROLE
    + event({"content": "Let me look."})
    + event(_call_delta(0, id="web_search:0", type="function", function={"name": "web_search"}))
    + event(_call_delta(1, id="fetch:1", type="function", function={"name": "fetch"}))
    + event(_call_delta(0, function={"arguments": '{"query": '}))
    + event(_call_delta(1, function={"arguments": '{"url": "https://e.org"}'}))
    + event(_call_delta(0, function={"arguments": '"kimi"}'}))
    + event({}, "tool_calls", usage=USAGE)
    + DONE
)


async def test_tool_call_deltas_are_assembled_by_index_with_arguments_unchanged(
    kimi: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(Fault("raw", status=200, body=INTERLEAVED, headers=SSE))
    outcome = await kimi.stream_chat(BODY, deadline=_deadline())
    assert outcome.finish_reason == "tool_calls" and outcome.truncated_reason is None
    assert outcome.content == "Let me look."
    assert outcome.tool_calls == [
        {
            "id": "web_search:0",
            "type": "function",
            "function": {"name": "web_search", "arguments": '{"query": "kimi"}'},
        },
        {
            "id": "fetch:1",
            "type": "function",
            "function": {"name": "fetch", "arguments": '{"url": "https://e.org"}'},
        },
    ]


async def test_a_stream_cut_after_a_tool_call_began_is_not_tried_again(
    kimi: KimiClient, emulator: Emulator
) -> None:
    head = event(_call_delta(0, id="fetch:0", type="function", function={"name": "fetch"}))
    emulator.inject(Fault("raw", status=200, body=ROLE + head, headers=SSE))
    outcome = await kimi.stream_chat(BODY, deadline=_deadline())
    assert outcome.truncated_reason == "stream_cut" and outcome.tool_calls
    assert sum(r.path.endswith("/chat/completions") for r in emulator.requests) == 1


@pytest.mark.parametrize(
    "delta",
    [
        {"tool_calls": {"index": 0}},
        {"tool_calls": [{"id": "x"}]},
        {"tool_calls": [{"index": "0"}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 5}}]},
    ],
    ids=["calls-object", "no-index", "string-index", "number-arguments"],
)
def test_a_malformed_tool_call_delta_is_upstream_malformed(delta: dict[str, object]) -> None:
    state = StreamState(model="kimi-k2.6")
    state.feed_line("data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]}))
    with pytest.raises(UpstreamMalformedError, match="malformed stream chunk"):
        state.feed_line("")


async def test_formula_declarations_are_function_tools(kimi: KimiClient) -> None:
    tools = await kimi.formula_tools(FETCH, deadline=_deadline())
    assert [t["function"]["name"] for t in tools] == ["fetch"]
    assert tools[0]["type"] == "function"


@pytest.mark.parametrize(
    "uri", ["moonshot/../admin:latest", "moonshot/fetch:latest?x=1", "/etc/passwd", "a/b"]
)
async def test_a_formula_uri_that_is_not_one_goes_nowhere(
    kimi: KimiClient, emulator: Emulator, uri: str
) -> None:
    with pytest.raises(InputError, match="not a Formula URI"):
        await kimi.formula_tools(uri, deadline=_deadline())
    with pytest.raises(InputError, match="not a Formula URI"):
        await kimi.run_fiber(uri, "fetch", "{}", deadline=_deadline())
    assert emulator.requests == []


async def test_a_fiber_runs_with_the_arguments_passed_through(
    kimi: KimiClient, emulator: Emulator
) -> None:
    arguments = '{"url":  "https://example.org/a"}'  # odd spacing: never re-encoded
    fiber = await kimi.run_fiber(FETCH, "fetch", arguments, deadline=_deadline())
    assert fiber.succeeded and "https://example.org/a" in fiber.result
    assert emulator.requests[0].json == {"name": "fetch", "arguments": arguments}


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_a_fiber_that_may_have_run_is_never_tried_again(
    kimi: KimiClient, emulator: Emulator, status: int
) -> None:
    emulator.inject(Fault("error", path=FETCH_FIBERS, status=status, error_type=None))
    with pytest.raises(ServerError):
        await kimi.run_fiber(FETCH, "fetch", '{"url": "https://e.org"}', deadline=_deadline())
    assert len(emulator.requests) == 1


async def test_a_fiber_cut_after_it_was_sent_is_never_tried_again(
    kimi: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(Fault("reset", path=FETCH_FIBERS))
    with pytest.raises(APIConnectionError):
        await kimi.run_fiber(FETCH, "fetch", '{"url": "https://e.org"}', deadline=_deadline())
    assert len(emulator.requests) == 1


async def test_a_fiber_refused_unrun_is_tried_again_and_runs(
    kimi: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(Fault("error", path=FETCH_FIBERS, status=503, error_type="server_unavailable"))
    emulator.inject(
        Fault("error", path=FETCH_FIBERS, status=429, error_type="engine_overloaded_error")
    )
    fiber = await kimi.run_fiber(FETCH, "fetch", '{"url": "https://e.org"}', deadline=_deadline())
    assert fiber.succeeded and len(emulator.requests) == 3


async def test_a_fiber_refused_past_the_retries_is_the_rate_limit_error(
    kimi: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(
        Fault("error", path=FETCH_FIBERS, status=429, error_type="engine_overloaded_error", times=5)
    )
    with pytest.raises(RateLimitError):
        await kimi.run_fiber(FETCH, "fetch", '{"url": "https://e.org"}', deadline=_deadline())
    assert len(emulator.requests) == 3  # max_retries 2
