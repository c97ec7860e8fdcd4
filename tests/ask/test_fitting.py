"""Fitting a conversation to the window, and the token counts it asks Kimi for."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import SecretStr

from kimi_mcp.ask.fitting import MAX_COUNTED, Fitted, fit, upper_bound
from kimi_mcp.ask.message_keys import HistoryKeys, chained, keyed
from kimi_mcp.ask.token_counts import TokenCounter
from kimi_mcp.ask.tool_loop import turn_message
from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.errors import InputError, PermissionDeniedError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.store.conversations import Turn
from kimi_mcp.store.open import open_stores
from tests.conftest import CANARY_KEY, USER_AGENT

pytestmark = pytest.mark.anyio


class ListCounts:
    """`fitting.Counts` over one list: `size` gives Kimi's count; `cached` says which counts are
    known already (all by default); asked and read record what fit wanted."""

    def __init__(
        self,
        messages: list[dict[str, Any]],
        size: Callable[[dict[str, Any]], int],
        cached: Callable[[dict[str, Any]], bool] = lambda message: True,
        proof: int | None = None,
    ) -> None:
        self.messages, self.size, self.cached, self.proof = messages, size, cached, proof
        self.asked: list[list[str]] = []
        self.read: list[int] = []

    async def known(self, indexes: list[int]) -> list[int | None]:
        self.read.append(len(indexes))
        found = [self.messages[i] for i in indexes]
        return [self.size(m) if self.cached(m) else None for m in found]

    async def count(self, indexes: list[int]) -> list[int]:
        self.asked.append([self.messages[i]["content"] for i in indexes])
        return [self.size(self.messages[i]) for i in indexes]

    async def proven(self) -> int | None:
        return self.proof


async def fitted_with(
    head: list[dict[str, Any]],
    history: list[dict[str, Any]],
    tail: list[dict[str, Any]],
    budget: int,
    counts: Callable[[list[dict[str, Any]]], ListCounts],
) -> tuple[Fitted, ListCounts]:
    made = counts(head + history + tail)
    return await fit(head, history, tail, budget=budget, counts=made), made


async def test_fitting_asks_kimi_only_when_the_local_bound_is_exceeded() -> None:
    def half(m: dict[str, Any]) -> int:
        return upper_bound(m) // 2

    def counts(ms: list[dict[str, Any]]) -> ListCounts:
        return ListCounts(ms, half, cached=lambda m: False)

    history = [{"role": r, "content": "x" * 100} for r in ("user", "assistant") * 3]
    tail = [{"role": "user", "content": "q"}]
    fitted, made = await fitted_with([], history, tail, 10_000, counts)
    assert fitted.dropped_turns == 0 and made.asked == [] and made.read == []
    fitted, made = await fitted_with([], history, tail, 200, counts)
    assert made.asked and fitted.dropped_turns % 2 == 0 and fitted.dropped_turns > 0
    assert fitted.messages[0]["role"] == "user"
    assert sum(half(m) for m in fitted.messages) <= 200


async def test_a_bound_proven_by_usage_fits_without_reading_or_asking() -> None:
    history = [{"role": r, "content": "x" * 100} for r in ("user", "assistant") * 3]
    tail = [{"role": "user", "content": "q"}]

    def counts(ms: list[dict[str, Any]]) -> ListCounts:
        return ListCounts(ms, upper_bound, cached=lambda m: False, proof=150)

    fitted, made = await fitted_with([], history, tail, 200, counts)
    assert fitted.dropped_turns == 0 and made.asked == [] and made.read == []
    # A question whose local bound breaks the proof is counted (once), and then fits.
    tail = [{"role": "user", "content": "q" * 60}]

    def counted(ms: list[dict[str, Any]]) -> ListCounts:
        return ListCounts(ms, lambda m: 20, cached=lambda m: False, proof=150)

    fitted, made = await fitted_with([], history, tail, 200, counted)
    assert fitted.dropped_turns == 0 and made.asked == [["q" * 60]]


async def test_fitting_walks_back_reading_cached_counts_in_batches() -> None:
    def counts(ms: list[dict[str, Any]]) -> ListCounts:
        return ListCounts(ms, lambda m: 10)

    history = [{"role": r, "content": f"t{i}"} for i, r in enumerate(("user", "assistant") * 12)]
    tail = [{"role": "user", "content": "q"}]
    fitted, made = await fitted_with([], history, tail, 145, counts)
    # 10 tokens each: the question and 13 turns fit, rounded down to 12 to keep pairs whole.
    assert fitted.dropped_turns == 12
    assert [m["content"] for m in fitted.messages][:1] == ["t12"]
    assert made.asked == [] and made.read == [1, 16]  # the question, then one batch


async def test_a_walk_back_counts_a_few_uncounted_turns_and_bounds_the_rest() -> None:
    # Every turn uncounted (as when a conversation first crosses the window): a handful are
    # counted, the rest take their local bound, and what is sent still fits.
    def counts(ms: list[dict[str, Any]]) -> ListCounts:
        return ListCounts(ms, lambda m: upper_bound(m) // 4, cached=lambda m: m["content"] == "q")

    history = [
        {"role": r, "content": f"turn {i} " * 20} for i, r in enumerate(("user", "assistant") * 30)
    ]
    tail = [{"role": "user", "content": "q"}]
    fitted, made = await fitted_with([], history, tail, 1500, counts)
    assert sum(len(asked) for asked in made.asked) == MAX_COUNTED and len(made.asked) == 1
    assert 0 < fitted.dropped_turns < len(history)
    sizes = [
        upper_bound(m) // 4 if m["content"] in made.asked[0] else upper_bound(m)
        for m in fitted.messages
    ]
    assert sum(sizes) <= 1500


async def test_trimming_drops_a_tool_round_whole_never_half_of_it() -> None:
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
    fitted, _ = await fitted_with([], history, tail, 50, lambda ms: ListCounts(ms, lambda m: 10))
    assert [m["content"] for m in fitted.messages] == ["newer question", "newer answer", "q"]
    assert fitted.dropped_turns == 4


async def test_fitting_refuses_when_the_question_alone_is_too_long() -> None:
    with pytest.raises(InputError, match="alone need more"):
        await fitted_with(
            [],
            [],
            [{"role": "user", "content": "q" * 500}],
            100,
            lambda ms: ListCounts(ms, lambda m: 10_000, cached=lambda m: False),
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


def test_a_history_is_keyed_once_and_extended_by_its_new_turns_only() -> None:
    memo = HistoryKeys()
    turns = [{"role": r, "content": f"turn {i}"} for i, r in enumerate(("user", "assistant") * 5)]
    first = memo.of("conv_a", "kimi-k2.6:False", "kimi-k2.6", turns[:8])
    grown = memo.of("conv_a", "kimi-k2.6:False", "kimi-k2.6", turns)
    fresh = keyed("kimi-k2.6", turns)
    assert (grown.count, grown.digest, grown.bound_sum) == (10, fresh.digest, fresh.bound_sum)
    assert grown.keys[: grown.count] == fresh.keys
    assert chained(first.digest, fresh.keys[8:]) == fresh.digest  # what a proof is kept under
    # A call that loaded the conversation before another one appended gets its own digest.
    stale = memo.of("conv_a", "kimi-k2.6:False", "kimi-k2.6", turns[:8])
    assert (stale.count, stale.digest) == (8, first.digest)
    assert memo.of("conv_a", "kimi-k2.6:True", "kimi-k2.6", turns).digest == fresh.digest
    assert keyed("kimi-k2.5", turns).digest != fresh.digest


def test_a_history_that_no_longer_starts_as_keyed_is_keyed_again() -> None:
    memo = HistoryKeys()
    turns = [{"role": r, "content": f"turn {i}"} for i, r in enumerate(("user", "assistant") * 5)]
    memo.of("conv_a", "shape", "kimi-k2.6", turns[:6])
    trimmed = turns[2:]  # were the oldest turns ever trimmed from the store
    assert (
        memo.of("conv_a", "shape", "kimi-k2.6", trimmed).digest
        == keyed("kimi-k2.6", trimmed).digest
    )


def test_the_local_bound_of_a_thinking_tool_call_turn_covers_its_reasoning() -> None:
    """A thinking model is sent reasoning_content back on tool-call turns: a bound that left it
    out let a prompt far over the window pass the fit (found in review)."""
    reasoning = "r" * 50_000
    call = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    message = turn_message(Turn("assistant", "", reasoning, call), thinks=True)
    assert upper_bound(message) >= len(reasoning) + len(json.dumps(call))
    tool = turn_message(Turn("tool", "ok", tool_call_id="call-" + "x" * 100), thinks=True)
    assert upper_bound(tool) >= 100
