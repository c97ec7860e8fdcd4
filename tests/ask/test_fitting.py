"""Fitting a conversation to the window, and the token counts it asks Kimi for."""

from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import SecretStr

from kimi_mcp.ask.fitting import fit, upper_bound
from kimi_mcp.ask.token_counts import TokenCounter
from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.errors import InputError, PermissionDeniedError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.store.open import open_stores
from tests.conftest import CANARY_KEY, USER_AGENT

pytestmark = pytest.mark.anyio


async def test_fitting_asks_kimi_only_when_the_local_bound_is_exceeded() -> None:
    counted: list[int] = []

    async def count_each(messages: list[dict[str, Any]]) -> list[int]:
        counted.append(len(messages))
        return [upper_bound(m) // 2 for m in messages]

    history = [{"role": r, "content": "x" * 100} for r in ("user", "assistant") * 3]
    tail = [{"role": "user", "content": "q"}]
    fitted = await fit([], history, tail, budget=10_000, count_each=count_each)
    assert fitted.dropped_turns == 0 and counted == []
    fitted = await fit([], history, tail, budget=200, count_each=count_each)
    assert counted and fitted.dropped_turns % 2 == 0 and fitted.dropped_turns > 0
    assert fitted.messages[0]["role"] == "user"
    assert sum(upper_bound(m) // 2 for m in fitted.messages) <= 200


async def test_fitting_walks_back_in_batches_and_keeps_what_fits() -> None:
    rounds: list[list[str]] = []

    async def count_each(messages: list[dict[str, Any]]) -> list[int]:
        rounds.append([m["content"] for m in messages])
        return [10] * len(messages)

    history = [{"role": r, "content": f"t{i}"} for i, r in enumerate(("user", "assistant") * 12)]
    tail = [{"role": "user", "content": "q"}]
    fitted = await fit([], history, tail, budget=145, count_each=count_each)
    # 10 tokens each: the question and 13 turns fit, rounded down to 12 to keep pairs whole.
    assert fitted.dropped_turns == 12
    assert [m["content"] for m in fitted.messages][:1] == ["t12"]
    assert len(rounds) == 2 and rounds[0][0] == "q" and len(rounds[1]) == 8


async def test_trimming_drops_a_tool_round_whole_never_half_of_it() -> None:
    async def count_each(messages: list[dict[str, Any]]) -> list[int]:
        return [10] * len(messages)

    call = {"id": "fetch:0", "type": "function", "function": {"name": "fetch", "arguments": "{}"}}
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "old question"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "fetch:0", "content": "page"},
        {"role": "assistant", "content": "old answer"},
        {"role": "user", "content": "newer question"},
        {"role": "assistant", "content": "newer answer"},
    ]
    tail = [{"role": "user", "content": "q"}]
    # Room for the question and 4 turns: the cut would fall after the assistant's tool call,
    # leaving its tool message without the call; the whole round goes instead.
    fitted = await fit([], history, tail, budget=50, count_each=count_each)
    assert [m["content"] for m in fitted.messages] == ["newer question", "newer answer", "q"]
    assert fitted.dropped_turns == 4


async def test_fitting_refuses_when_the_question_alone_is_too_long() -> None:
    async def count_each(messages: list[dict[str, Any]]) -> list[int]:
        return [10_000] * len(messages)

    with pytest.raises(InputError, match="alone need more"):
        await fit(
            [], [], [{"role": "user", "content": "q" * 500}], budget=100, count_each=count_each
        )


async def test_a_failing_count_is_one_clear_error_and_stops_the_other_counts(
    emulator: Emulator, emulator_url: str
) -> None:
    estimate = "/v1/tokenizers/estimate-token-count"
    emulator.inject(
        Fault("error", path=estimate, status=403, error_type="permission_denied_error", times=20)
    )
    client = KimiClient(user_agent=USER_AGENT, api_key=SecretStr(CANARY_KEY), base_url=emulator_url)
    messages = [{"role": "user", "content": f"turn {n}"} for n in range(12)]
    try:
        with pytest.raises(PermissionDeniedError):  # itself, not wrapped in an ExceptionGroup
            await TokenCounter(client).count_each(
                "kimi-k2.6", messages, deadline=anyio.current_time() + 30
            )
    finally:
        await client.aclose()
    asked = [r for r in emulator.requests if r.path == estimate]
    assert 1 <= len(asked) <= 4  # at most the first concurrent round went out


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_count_made_by_one_replica_is_reused_by_another_through_the_store(
    emulator: Emulator,
    emulator_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    backend: str,
) -> None:
    url = request.getfixturevalue("redis_url") if backend == "redis" else None
    estimate = "/v1/tokenizers/estimate-token-count"
    client = KimiClient(user_agent=USER_AGENT, api_key=SecretStr(CANARY_KEY), base_url=emulator_url)
    replicas = [open_stores(url, data_dir=tmp_path) for _ in range(2)]
    messages = [{"role": "user", "content": f"turn {n}"} for n in range(6)]
    deadline = anyio.current_time() + 30
    try:
        first = await TokenCounter(client, replicas[0].token_counts).count_each(
            "kimi-k2.6", messages, deadline=deadline
        )
        asked = sum(r.path == estimate for r in emulator.requests)
        second = await TokenCounter(client, replicas[1].token_counts).count_each(
            "kimi-k2.6", messages, deadline=deadline
        )
    finally:
        await client.aclose()
        for stores in replicas:
            await stores.aclose()
    assert second == first and asked == len(messages)
    assert sum(r.path == estimate for r in emulator.requests) == asked  # none asked again


async def test_a_token_count_store_that_fails_costs_a_recount_not_the_call(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    stores = open_stores(None, data_dir=blocker)
    client = KimiClient(user_agent=USER_AGENT, api_key=SecretStr(CANARY_KEY), base_url=emulator_url)
    try:
        counts = await TokenCounter(client, stores.token_counts).count_each(
            "kimi-k2.6", [{"role": "user", "content": "hi"}], deadline=anyio.current_time() + 30
        )
    finally:
        await client.aclose()
        await stores.aclose()
    assert counts[0] > 0
